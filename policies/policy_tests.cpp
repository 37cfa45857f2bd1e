#include "policies/policy_tests.h"

#include <algorithm>

#include "common/toml_reader.h"
#include "common/utc_time.h"
#include "policies/decide.h"
#include "policies/request_facts.h"

namespace dsgw::policies {
namespace {

struct Case {
  std::string name;
  int line = 0;
  router::Request request;
  std::vector<std::string> down;
  SpendSoFar spend;
  std::chrono::system_clock::time_point at = std::chrono::system_clock::now();
  std::optional<std::string> expect_backend, expect_error, expect_class, expect_rule;
  std::optional<std::vector<std::string>> expect_order, expect_pii;
};

// "YYYY-MM-DDTHH:MM:SSZ" (UTC).
template <class T>
void expect(TableReader& t, const char* key, std::optional<T>& out) {
  T value{};
  if (t.get(key, value)) out = std::move(value);
}

Case read_case(const toml::table& table, const std::string& path, Diagnostics& diag) {
  TableReader t(table, path, diag);
  Case c;
  c.line = static_cast<int>(table.source().begin.line);
  t.require("name", c.name);
  router::Request& r = c.request;
  r.id = "policy-test";
  r.tenant = "anonymous";
  t.get("tenant", r.tenant);
  t.get("device", r.device);
  t.require("model", r.model);
  std::string prompt;
  t.get("prompt", prompt);
  r.messages.push_back({"user", prompt, {}});
  std::string hint;
  if (t.get("data_class", hint)) r.hints.data_class = hint;
  int64_t n = 0;
  if (t.get("latency_budget_ms", n, 1)) r.hints.latency_budget_ms = n;
  double usd = 0;
  if (t.get("max_cost_usd", usd)) r.hints.max_cost_usd = usd;
  int tokens = 0;
  if (t.get("max_tokens", tokens, 1)) r.sampling.max_tokens = tokens;
  t.get("down", c.down);
  t.get("spent_usd_today", c.spend.usd_today);
  t.get("spent_usd_month", c.spend.usd_month);
  t.get("spent_tokens_today", c.spend.tokens_today, 0);
  t.get("spent_tokens_month", c.spend.tokens_month, 0);
  c.spend.usd_month = std::max(c.spend.usd_month, c.spend.usd_today);
  c.spend.tokens_month = std::max(c.spend.tokens_month, c.spend.tokens_today);
  std::string at;
  if (t.get("at", at)) {
    if (auto when = parse_utc_time(at)) {
      c.at = *when;
    } else {
      t.error("at", "expected a UTC time \"YYYY-MM-DDTHH:MM:SSZ\", got \"" + at + "\"");
    }
  }
  expect(t, "expect_backend", c.expect_backend);
  expect(t, "expect_error", c.expect_error);
  expect(t, "expect_class", c.expect_class);
  expect(t, "expect_rule", c.expect_rule);
  expect(t, "expect_order", c.expect_order);
  expect(t, "expect_pii", c.expect_pii);
  if (!c.expect_backend && !c.expect_error && !c.expect_order) {
    t.error("name", "a case needs expect_backend, expect_order or expect_error");
  }
  t.finish();
  return c;
}

std::string list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const auto& s : items) out += (out.size() > 1 ? ", " : "") + s;
  return out + "]";
}

// What differed between `c` and what the policy did; empty if nothing.
std::vector<std::string> check(const Case& c, const Policy& policy, const std::vector<BackendFacts>& backends) {
  static const pii::Detector kDetector;
  std::vector<std::string> diffs;
  auto facts = extract_facts(c.request, policy, kDetector);
  if (!facts) return {"the request is invalid: " + facts.error().message};
  const auto states = offline_states(policy, backends, c.request.model, c.down);
  const Decision d = decide(policy, *facts, states, c.spend, c.at);
  std::vector<std::string> order;
  for (int b : d.order) order.push_back(policy.backends[static_cast<size_t>(b)].name);
  const std::string error = d.error ? (d.error->subcode.empty() ? error_code_name(d.error->code) : d.error->subcode) : "";
  const std::string got = d.error ? "error " + error + " (" + d.error->message + ")"
                                  : "backend " + order.front() + ", order " + list(order);
  if (c.expect_error && error != *c.expect_error) diffs.push_back("expected error " + *c.expect_error + ", got " + got);
  if (c.expect_backend && (order.empty() || order.front() != *c.expect_backend)) {
    diffs.push_back("expected backend " + *c.expect_backend + ", got " + got);
  }
  if (c.expect_order && order != *c.expect_order) {
    diffs.push_back("expected order " + list(*c.expect_order) + ", got " + got);
  }
  const std::string& cls = policy.classes[static_cast<size_t>(d.data_class)].name;
  if (c.expect_class && cls != *c.expect_class) diffs.push_back("expected class " + *c.expect_class + ", got " + cls);
  const std::string rule(d.rule_id(policy));
  if (c.expect_rule && rule != *c.expect_rule) diffs.push_back("expected rule " + *c.expect_rule + ", got " + rule);
  if (c.expect_pii) {
    std::vector<std::string> found;
    for (int i = 0; i < kPiiTypeCount; ++i) {
      if (d.pii & (PiiMask{1} << i)) found.emplace_back(pii::name(static_cast<PiiType>(i)));
    }
    auto want = *c.expect_pii;
    std::sort(want.begin(), want.end());
    std::sort(found.begin(), found.end());
    if (want != found) diffs.push_back("expected PII " + list(want) + ", found " + list(found));
  }
  return diffs;
}

}  // namespace

std::vector<BackendState> offline_states(const Policy& policy, const std::vector<BackendFacts>& backends,
                                         const std::string& model, const std::vector<std::string>& down) {
  std::vector<BackendState> states(backends.size());
  for (size_t i = 0; i < backends.size(); ++i) {
    const auto& m = backends[i].models;
    states[i].serves_model = std::find(m.begin(), m.end(), model) != m.end();
    states[i].usable = std::find(down.begin(), down.end(), backends[i].name) == down.end();
    if (!states[i].usable) states[i].unusable_reason = "assumed down";
    states[i].latency = {policy.backends[i].prior.ttft_ms, policy.backends[i].prior.tpot_ms, 0};
  }
  return states;
}

Result<PolicyTestReport> run_policy_tests(const std::string& path, const Policy& policy,
                                          const std::vector<BackendFacts>& backends) {
  Diagnostics diag(path);
  auto file = read_toml_file(diag);
  if (!file) return make_error(ErrorCode::kInvalidRequest, diag.joined());
  TableReader top(file->root, "", diag);
  std::vector<Case> cases;
  const auto tables = top.tables("case");
  for (size_t i = 0; i < tables.size(); ++i) cases.push_back(read_case(*tables[i], "case[" + std::to_string(i) + "]", diag));
  top.finish();
  if (!diag.empty()) return make_error(ErrorCode::kInvalidRequest, diag.joined());

  PolicyTestReport report;
  report.cases = static_cast<int>(cases.size());
  for (const auto& c : cases) {
    for (const auto& diff : check(c, policy, backends)) {
      report.failures.push_back(path + ":" + std::to_string(c.line) + ": case \"" + c.name + "\": " + diff);
    }
  }
  return report;
}

}  // namespace dsgw::policies
