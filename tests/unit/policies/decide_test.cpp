// decide(): the data class, sovereignty, rules and their order, and the reasons backends are
// eliminated. The estimate-driven cases (cost, latency, budgets) are in decide_estimates_test.cpp.
#include "policies/decide.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/unit/policies/decide_fixtures.h"
#include "tests/unit/test_util.h"

using namespace std::chrono;
using namespace dsgw::policies::decide_fixtures;
using dsgw::ErrorCode;
using dsgw::policies::Decision;
using dsgw::policies::PiiType;
using dsgw::policies::Policy;
using dsgw::policies::Prefer;
using dsgw::policies::RequestFacts;
using dsgw::policies::Verdict;
using dsgw::test::contains;

TEST_CASE("decide: the class is the highest of the hint, the tenant's default and the detector's findings") {
  const Policy p = policy_with("");
  const int internal = p.class_rank("internal"), confidential = p.class_rank("confidential"),
            restricted = p.class_rank("restricted"), pub = p.class_rank("public");

  Decision d = run(p, facts());
  CHECK(d.data_class == internal);  // the tenant's (default) class
  CHECK(d.tenant_class == internal);
  CHECK(d.detected_class == -1);
  CHECK(d.pii == 0);

  RequestFacts f = facts();
  f.hinted_class = pub;  // a hint never lowers the class
  CHECK(run(p, f).data_class == internal);
  f.hinted_class = restricted;
  CHECK(run(p, f).data_class == restricted);

  f = facts("team-c");
  f.hinted_class = internal;
  CHECK(run(p, f).data_class == confidential);

  f = facts("not-in-the-policy");
  CHECK(run(p, f).data_class == internal);  // the defaults' class

  f = facts();
  f.findings = {found(PiiType::kEmail, 0.9)};
  d = run(p, f);
  CHECK(d.data_class == confidential);
  CHECK(d.detected_class == confidential);
  CHECK(d.pii == (1u << static_cast<int>(PiiType::kEmail)));

  f.findings.push_back(found(PiiType::kCreditCard));
  CHECK(run(p, f).data_class == restricted);

  // Below min_confidence: ignored altogether. An "ignore"d type is reported but classes nothing.
  f.findings = {found(PiiType::kPhone, 0.4), found(PiiType::kIpv4, 0.75)};
  d = run(p, f);
  CHECK(d.data_class == internal);
  CHECK(d.detected_class == -1);
  CHECK(d.pii == (1u << static_cast<int>(PiiType::kIpv4)));
}

TEST_CASE("decide: sovereignty overrides allow lists, orders and hints") {
  const Policy p = policy_with(R"(
[[rule]]
id = "let-cn-have-it"
priority = 100
[rule.when]
data_class = ["restricted"]
[rule.then]
allow = ["cn-api", "local"]
order = ["cn-api", "local"]
)");
  RequestFacts f = facts();
  f.findings = {found(PiiType::kCreditCard)};
  f.hinted_class = p.class_rank("public");
  Decision d = run(p, f);
  REQUIRE_FALSE(d.error.has_value());
  CHECK(d.data_class == p.class_rank("restricted"));
  CHECK(d.rule_id(p) == "let-cn-have-it");
  CHECK(candidate(d, kCn).verdict == Verdict::kSovereignty);
  CHECK(candidate(d, kEu).verdict == Verdict::kSovereignty);
  CHECK(candidate(d, kSite).verdict == Verdict::kNotAllowedByRule);
  CHECK(order_of(p, d) == Names{"local"});

  // With the local model down, the request fails closed rather than going to cn-api.
  auto s = states();
  s[kLocal].usable = false;
  d = run(p, f, s);
  REQUIRE(d.error.has_value());
  CHECK(d.error->code == ErrorCode::kUnavailable);
  CHECK(subcode(d) == "no_allowed_backend");
  CHECK(d.order.empty());

  // A hint alone makes it restricted just the same.
  f.findings.clear();
  f.hinted_class = p.class_rank("restricted");
  d = run(p, f);
  CHECK(candidate(d, kCn).verdict == Verdict::kSovereignty);
  CHECK(order_of(p, d) == Names{"local"});
}

TEST_CASE("decide: deny lists add up, allow lists intersect, each eliminated backend names its rule") {
  const Policy p = policy_with(R"(
[[rule]]
id = "allow-2"
priority = 10
[rule.then]
allow = ["local", "cn-api", "eu-api"]

[[rule]]
id = "deny-cn"
priority = 40
[rule.when]
model = ["m"]
[rule.then]
deny = ["cn-api"]

[[rule]]
id = "allow-1"
priority = 20
[rule.then]
allow = ["local", "site", "eu-api"]

[[rule]]
id = "deny-eu"
priority = 30
[rule.then]
deny = ["eu-api"]
)");
  const Decision d = run(p, facts());
  REQUIRE_FALSE(d.error.has_value());
  CHECK(order_of(p, d) == Names{"local"});
  REQUIRE(d.matched_rules.size() == 4);
  CHECK(p.rules[static_cast<size_t>(d.matched_rules[0])].id == "deny-cn");
  CHECK(p.rules[static_cast<size_t>(d.matched_rules[3])].id == "allow-2");
  CHECK(candidate(d, kLocal).verdict == Verdict::kKept);
  CHECK(candidate(d, kSite).verdict == Verdict::kNotAllowedByRule);
  CHECK(rule_of(p, candidate(d, kSite)) == "allow-2");
  CHECK(candidate(d, kCn).verdict == Verdict::kDeniedByRule);
  CHECK(rule_of(p, candidate(d, kCn)) == "deny-cn");
  CHECK(candidate(d, kEu).verdict == Verdict::kDeniedByRule);  // deny is checked before allow
  CHECK(rule_of(p, candidate(d, kEu)) == "deny-eu");

  // deny-cn needs model "m": for "chat" only cn-api serves it and nothing else denies it,
  // but allow-1 does not list it.
  const Decision chat = run(p, facts("anonymous", "chat"), only_serving(kCn));
  CHECK(candidate(chat, kCn).verdict == Verdict::kNotAllowedByRule);
  CHECK(rule_of(p, candidate(chat, kCn)) == "allow-1");
  CHECK(subcode(chat) == "no_allowed_backend");
}

TEST_CASE("decide: a final rule stops the walk") {
  const Policy p = policy_with(R"(
[[rule]]
id = "deny-cn"
priority = 10
[rule.then]
deny = ["cn-api"]

[[rule]]
id = "stop"
priority = 50
final = true
[rule.when]
tenant = ["team-x"]
[rule.then]
prefer = "cost"
)");
  Decision d = run(p, facts("team-x"));
  REQUIRE(d.matched_rules.size() == 1);
  CHECK(d.rule_id(p) == "stop");
  CHECK(candidate(d, kCn).verdict == Verdict::kKept);

  d = run(p, facts());
  REQUIRE(d.matched_rules.size() == 1);
  CHECK(d.rule_id(p) == "deny-cn");  // no rule set prefer: the first matched one decides
  CHECK(d.prefer == Prefer::kLatency);
  CHECK(candidate(d, kCn).verdict == Verdict::kDeniedByRule);
}

TEST_CASE("decide: the first rule to set prefer wins and names X-Dsgw-Rule; slo and priority likewise") {
  const Policy p = policy_with(R"(
[[rule]]
id = "by-order"
priority = 40
[rule.when]
model = ["m"]
[rule.then]
order = ["cn-api", "site"]
slo_ms = 100000
priority = 8

[[rule]]
id = "by-cost"
priority = 50
[rule.when]
prompt_tokens_min = 500
prompt_tokens_max = 2000
[rule.then]
prefer = "cost"
slo_ms = 90000
priority = 2

[[rule]]
id = "deny-only"
priority = 90
[rule.then]
deny = ["eu-api"]
)");
  RequestFacts f = facts();
  Decision d = run(p, f);
  CHECK(d.matched_rules.size() == 3);
  CHECK(d.rule_id(p) == "by-cost");
  CHECK(d.prefer == Prefer::kCost);
  CHECK(d.latency_budget_ms == 90000);
  CHECK(d.priority == 2);
  CHECK(order_of(p, d) == Names{"site", "local", "cn-api"});

  f.prompt_tokens = 100;  // below by-cost's range
  d = run(p, f);
  CHECK(d.rule_id(p) == "by-order");
  CHECK(d.prefer == Prefer::kOrder);
  CHECK(d.latency_budget_ms == 100000);
  CHECK(d.priority == 8);
  CHECK(order_of(p, d) == Names{"cn-api", "site", "local"});  // unlisted ones after, by latency

  f.prompt_tokens = 2001;  // above it
  CHECK(run(p, f).rule_id(p) == "by-order");

  // The request's own budget and priority beat the rules'.
  f.latency_budget_ms = 5000;
  f.priority = 1;
  d = run(p, f);
  CHECK(d.latency_budget_ms == 5000);
  CHECK(d.priority == 1);

  // Only deny-only matches a short "chat" request: it names the decision, with the default preference.
  f = facts("anonymous", "chat");
  f.prompt_tokens = 100;
  d = run(p, f, only_serving(kCn));
  CHECK(d.rule_id(p) == "deny-only");
  CHECK(d.prefer == Prefer::kLatency);

  const Policy no_rules = policy_with("");
  CHECK(run(no_rules, facts()).rule_id(no_rules) == "default");
}

TEST_CASE("decide: unusable backends and open circuits are eliminated") {
  const Policy p = policy_with("");
  auto s = states();
  s[kLocal].usable = false;
  s[kLocal].unusable_reason = "model failed to load";
  s[kCn].circuit_open = true;
  const Decision d = run(p, facts(), s);
  CHECK(candidate(d, kLocal).verdict == Verdict::kUnusable);
  CHECK(candidate(d, kCn).verdict == Verdict::kCircuitOpen);
  CHECK(order_of(p, d) == Names{"site", "eu-api"});
}

TEST_CASE("decide: a model no backend serves is kNotFound") {
  const Policy p = policy_with("");
  auto s = states();
  for (auto& b : s) b.serves_model = false;
  const Decision d = run(p, facts("anonymous", "gpt-7"), s);
  REQUIRE(d.error.has_value());
  CHECK(d.error->code == ErrorCode::kNotFound);
  CHECK(d.error->param == "model");
  CHECK(subcode(d) == "model_not_found");
  CHECK(contains(d.error->message, "gpt-7"));
  CHECK(d.order.empty());
  for (const auto& c : d.candidates) CHECK(c.verdict == Verdict::kModelNotServed);
}

TEST_CASE("decide: a tenant's model list limits what it may ask for") {
  const Policy p = policy_with("");
  const auto s = only_serving(kCn);  // "chat"
  Decision d = run(p, facts("limited", "chat"), s);
  REQUIRE(d.error.has_value());
  CHECK(d.error->code == ErrorCode::kNotFound);
  CHECK(contains(d.error->message, "not available to tenant \"limited\""));
  CHECK(d.order.empty());
  CHECK(run(p, facts("anonymous", "chat"), s).order == std::vector<int>{kCn});
  CHECK_FALSE(run(p, facts("limited", "m")).error.has_value());
}

TEST_CASE("decide: MQTT device ids map to tenants and match rules by glob") {
  const Policy p = policy_with(R"(
[[rule]]
id = "cameras-not-eu"
[rule.when]
device = ["line-*-cam"]
[rule.then]
deny = ["eu-api"]
)");
  RequestFacts f = facts("");
  f.device = "plant-7-a3";
  Decision d = run(p, f);
  CHECK(d.data_class == p.class_rank("confidential"));  // tenant "plant"
  CHECK(candidate(d, kCn).verdict == Verdict::kSovereignty);
  f.device = "plant-8-a3";
  CHECK(run(p, f).data_class == p.class_rank("internal"));

  f.device = "line-3-cam";
  d = run(p, f);
  CHECK(candidate(d, kEu).verdict == Verdict::kDeniedByRule);
  CHECK(d.rule_id(p) == "cameras-not-eu");
  f.device = "line-3-mic";
  CHECK(run(p, f).matched_rules.empty());
  f.device = "";  // HTTP requests have no device: device rules never match them
  CHECK(run(p, f).matched_rules.empty());
}

TEST_CASE("decide: time-of-day windows are UTC and may wrap midnight") {
  const Policy p = policy_with(R"(
[[rule]]
id = "night"
[rule.when]
time_from = "22:00"
time_to = "06:00"
[rule.then]
deny = ["cn-api"]

[[rule]]
id = "lunch"
[rule.when]
time_from = "12:00"
time_to = "13:30"
[rule.then]
deny = ["eu-api"]
)");
  auto matched = [&](system_clock::time_point now) {
    std::vector<std::string> ids;
    for (int i : run(p, facts(), states(), {}, now).matched_rules) ids.push_back(p.rules[static_cast<size_t>(i)].id);
    return ids;
  };
  CHECK(matched(at(22, 0)) == Names{"night"});
  CHECK(matched(at(23, 30)) == Names{"night"});
  CHECK(matched(at(0, 0)) == Names{"night"});
  CHECK(matched(at(5, 59)) == Names{"night"});
  CHECK(matched(at(6, 0)).empty());
  CHECK(matched(at(21, 59)).empty());
  CHECK(matched(at(12, 0)) == Names{"lunch"});
  CHECK(matched(at(13, 29)) == Names{"lunch"});
  CHECK(matched(at(13, 30)).empty());
}

TEST_CASE("decide: when nothing allowed is usable it fails closed with kUnavailable, naming each backend's reason") {
  const Policy p = policy_with("");
  RequestFacts f = facts();
  f.findings = {found(PiiType::kCreditCard)};
  auto s = states();
  s[kLocal].usable = false;
  s[kLocal].unusable_reason = "model failed to load";
  s[kSite].circuit_open = true;
  s[kEu].serves_model = false;
  const Decision d = run(p, f, s);
  REQUIRE(d.error.has_value());
  CHECK(d.error->code == ErrorCode::kUnavailable);
  CHECK(subcode(d) == "no_allowed_backend");
  CHECK(d.error->retry_after_seconds.has_value());
  const std::string& m = d.error->message;
  CHECK(contains(m, "\"restricted\""));
  CHECK(contains(m, "local: unusable (model failed to load)"));
  CHECK(contains(m, "site: circuit_open"));
  CHECK(contains(m, "cn-api: sovereignty"));
  CHECK_FALSE(contains(m, "eu-api"));  // does not serve the model: not a candidate
  CHECK(d.order.empty());
}
