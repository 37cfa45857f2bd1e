#include "policies/policy_tests.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/runtime.h"
#include "policies/policy_loader.h"
#include "tests/unit/test_util.h"

using dsgw::ErrorCode;
using dsgw::policies::BackendFacts;
using dsgw::policies::offline_states;
using dsgw::policies::Policy;
using dsgw::policies::run_policy_tests;
using dsgw::test::contains;
using dsgw::test::TempDir;

namespace {

// The shipped config's backends and policy, and where its tests are.
struct Shipped {
  std::vector<BackendFacts> backends;
  Policy policy;
  std::string tests;
};

Shipped shipped() {
  const auto config = dsgw::config::load(DSGW_SOURCE_DIR "/config/dsgw.toml");
  REQUIRE_MESSAGE(config.has_value(), config.error().message);
  Shipped s;
  s.backends = dsgw::daemon::backend_facts(*config);
  auto policy = dsgw::policies::load_policy(config->policy.file, s.backends);
  REQUIRE_MESSAGE(policy.has_value(), policy.error().message);
  s.policy = std::move(policy.value());
  s.tests = config->policy.tests;
  return s;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out.append("\n  ").append(l);
  return out;
}

// Case 2 starts on line 7.
const std::string kTwoCases = R"([[case]]
name = "right"
model = "deepseek-r1"
prompt = "Explain TCP."
expect_backend = "local"

[[case]]
name = "wrong"
model = "deepseek-r1"
prompt = "Explain TCP."
expect_backend = "deepseek"
expect_class = "restricted"
expect_rule = "secrets-stay-home"
expect_pii = ["email"]
expect_order = ["deepseek"]
)";

}  // namespace

TEST_CASE("policy-tests: the shipped config/policy.tests.toml passes against config/policy.toml") {
  const Shipped s = shipped();
  REQUIRE_FALSE(s.tests.empty());
  const auto report = run_policy_tests(s.tests, s.policy, s.backends);
  REQUIRE_MESSAGE(report.has_value(), report.error().message);
  CHECK(report->cases >= 10);
  CHECK_MESSAGE(report->failures.empty(), "failures:" << joined(report->failures));
}

TEST_CASE("policy-tests: a wrong expectation is a failure naming file:line, the case and what differed") {
  const Shipped s = shipped();
  TempDir dir;
  const std::string path = dir.write("policy.tests.toml", kTwoCases);
  const auto report = run_policy_tests(path, s.policy, s.backends);
  REQUIRE_MESSAGE(report.has_value(), report.error().message);
  CHECK(report->cases == 2);
  REQUIRE_MESSAGE(report->failures.size() == 5, "failures:" << joined(report->failures));
  const std::string prefix = std::string(path).append(":7: case \"wrong\": ");
  for (const auto& f : report->failures) CHECK_MESSAGE(f.rfind(prefix, 0) == 0, f);
  CHECK(contains(report->failures[0], "expected backend deepseek, got backend local, order [local, deepseek]"));
  CHECK(contains(report->failures[1], "expected order [deepseek], got backend local"));
  CHECK(contains(report->failures[2], "expected class restricted, got internal"));
  CHECK(contains(report->failures[3], "expected rule secrets-stay-home, got local-first"));
  CHECK(contains(report->failures[4], "expected PII [email], found []"));
}

TEST_CASE("policy-tests: expected errors, times, spending and hints are honoured") {
  const Shipped s = shipped();
  TempDir dir;
  const std::string path = dir.write("policy.tests.toml", R"([[case]]
name = "expects an error but gets a backend"
model = "deepseek-r1"
prompt = "hello"
expect_error = "no_allowed_backend"

[[case]]
name = "expects a backend but is over budget"
model = "deepseek-r1"
prompt = "hello"
spent_usd_month = 50.0
at = "2025-10-01T23:00:00Z"
expect_backend = "local"

[[case]]
name = "a hint the policy lacks"
model = "deepseek-r1"
prompt = "hello"
data_class = "top-secret"
expect_backend = "local"
)");
  const auto report = run_policy_tests(path, s.policy, s.backends);
  REQUIRE_MESSAGE(report.has_value(), report.error().message);
  REQUIRE_MESSAGE(report->failures.size() == 3, "failures:" << joined(report->failures));
  CHECK(contains(report->failures[0], ":1: case \"expects an error but gets a backend\": expected error no_allowed_backend, got backend local"));
  CHECK(contains(report->failures[1], ":7: case \"expects a backend but is over budget\": expected backend local, got error budget_exceeded"));
  CHECK(contains(report->failures[2], ":15: case \"a hint the policy lacks\": the request is invalid: unknown data class"));
}

TEST_CASE("policy-tests: a malformed tests file is an error, reported like config errors") {
  const Shipped s = shipped();
  TempDir dir;
  const std::string path = dir.write("policy.tests.toml", R"([[case]]
name = "typo"
model = "deepseek-r1"
expect_backnd = "local"

[[case]]
name = "bad time"
model = "deepseek-r1"
at = "tomorrow"
expect_backend = "local"
)");
  const auto report = run_policy_tests(path, s.policy, s.backends);
  REQUIRE_FALSE(report.has_value());
  CHECK(report.error().code == ErrorCode::kInvalidRequest);
  const std::string& m = report.error().message;
  CHECK(contains(m, std::string(path).append(":4:1: case[0].expect_backnd: unknown key")));
  CHECK(contains(m, std::string(path).append(":2:8: case[0].name: a case needs expect_backend, expect_order or expect_error")));
  CHECK(contains(m, std::string(path).append(":9:6: case[1].at: expected a UTC time")));

  const auto syntax = run_policy_tests(dir.write("broken.toml", "[[case]\n"), s.policy, s.backends);
  REQUIRE_FALSE(syntax.has_value());
  CHECK(contains(syntax.error().message, "broken.toml:1:"));

  const auto missing = run_policy_tests(dir.path("nope.toml"), s.policy, s.backends);
  REQUIRE_FALSE(missing.has_value());
  CHECK(contains(missing.error().message, "cannot open"));
}

TEST_CASE("policy-tests: offline states serve the configured models, mark `down` ones unusable and use the priors") {
  const Shipped s = shipped();
  const auto states = offline_states(s.policy, s.backends, "deepseek-r1", {"local"});
  REQUIRE(states.size() == s.backends.size());
  const int local = s.policy.backend_index("local"), chat = s.policy.backend_index("deepseek-chat");
  REQUIRE(local >= 0);
  REQUIRE(chat >= 0);
  CHECK(states[static_cast<size_t>(local)].serves_model);
  CHECK_FALSE(states[static_cast<size_t>(local)].usable);
  CHECK(states[static_cast<size_t>(local)].unusable_reason == "assumed down");
  CHECK(states[static_cast<size_t>(local)].latency.ttft_ms == s.policy.backends[static_cast<size_t>(local)].prior.ttft_ms);
  CHECK_FALSE(states[static_cast<size_t>(chat)].serves_model);
  CHECK(states[static_cast<size_t>(chat)].usable);
}
