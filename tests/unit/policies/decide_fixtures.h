// Fixtures shared by the decide() tests (decide_test.cpp, decide_estimates_test.cpp): four
// backends in four jurisdictions, a policy head with classes, PII mapping and tenants, prices,
// backend states with known latencies, and small accessors for a Decision.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "policies/decide.h"
#include "policies/policy_loader.h"
#include "tests/unit/test_util.h"

namespace dsgw::policies::decide_fixtures {

// Indices into kBackends, in config order.
enum { kLocal, kSite, kCn, kEu };

// "m" is served by all four; "chat" only by cn-api.
inline const std::vector<BackendFacts> kBackends{
    {"local", "device", {"m"}},
    {"site", "site", {"m"}},
    {"cn-api", "cn", {"m", "chat"}},
    {"eu-api", "eu", {"m"}},
};

inline const std::string kHead = R"(
[defaults]
data_class = "internal"
prefer = "latency"
expected_output_tokens = 100
min_confidence = 0.5

[[class]]
name = "public"
jurisdictions = ["device", "site", "cn", "eu"]
[[class]]
name = "internal"
jurisdictions = ["device", "site", "cn", "eu"]
[[class]]
name = "confidential"
jurisdictions = ["device", "site", "eu"]
[[class]]
name = "restricted"
jurisdictions = ["device", "site"]

[pii]
credit_card = "restricted"
email = "confidential"
phone = "confidential"
ipv4 = "ignore"

[[tenant]]
name = "anonymous"
[[tenant]]
name = "team-c"
data_class = "confidential"
[[tenant]]
name = "plant"
devices = ["plant-7-*"]
data_class = "confidential"
[[tenant]]
name = "limited"
models = ["m"]
[[tenant]]
name = "budget"
usd_per_day = 1.0
usd_per_month = 10.0
[[tenant]]
name = "tokens"
tokens_per_day = 1000
tokens_per_month = 5000
)";

// Site is free; local pays a little energy; cn-api is cheaper than eu-api.
// 1000 prompt + 100 output tokens: cn 0.0012, eu 0.0036 USD.
inline const std::string kPrices = R"(
[[backend]]
name = "local"
[backend.energy]
watts = 100
usd_per_kwh = 0.1

[[backend]]
name = "cn-api"
[[backend.tokens_price]]
from = "2025-01-01"
input_cache_miss = 1.0
output = 2.0

[[backend]]
name = "eu-api"
[[backend.tokens_price]]
from = "2025-01-01"
input_cache_miss = 3.0
output = 6.0
)";

inline Policy policy_with(const std::string& rules, const std::string& prices = kPrices) {
  test::TempDir dir;
  auto p = load_policy(dir.write("policy.toml", kHead + prices + rules), kBackends);
  REQUIRE_MESSAGE(p.has_value(), p.error().message);
  return std::move(p.value());
}

// All serve the model and are usable; predicted completion with 100 output
// tokens: local 1100 ms, site 1200, cn-api 1300, eu-api 1400.
inline std::vector<BackendState> states() {
  std::vector<BackendState> s(4);
  for (int i = 0; i < 4; ++i) {
    s[static_cast<size_t>(i)].serves_model = true;
    s[static_cast<size_t>(i)].latency = {100.0 * (i + 1), 10, 5};
  }
  return s;
}

// Only `backend` serves the model (as with "chat").
inline std::vector<BackendState> only_serving(int backend) {
  auto s = states();
  for (size_t i = 0; i < s.size(); ++i) s[i].serves_model = static_cast<int>(i) == backend;
  return s;
}

inline RequestFacts facts(const std::string& tenant = "anonymous", const std::string& model = "m") {
  RequestFacts f;
  f.tenant = tenant;
  f.model = model;
  f.prompt_tokens = 1000;
  return f;
}

inline pii::Finding found(PiiType type, double confidence = 1.0) {
  return pii::Finding{type, 0, 16, confidence};
}

inline std::chrono::system_clock::time_point at(int hour, int minute) {
  using namespace std::chrono;
  return sys_days(year(2025) / October / 1) + hours(hour) + minutes(minute);
}

inline const std::chrono::system_clock::time_point kNoon = at(12, 0);

inline Decision run(const Policy& p, const RequestFacts& f, const std::vector<BackendState>& s = states(),
                    const SpendSoFar& spend = {}, std::chrono::system_clock::time_point now = kNoon) {
  return decide(p, f, s, spend, now);
}

inline std::vector<std::string> order_of(const Policy& p, const Decision& d) {
  std::vector<std::string> out;
  for (int b : d.order) out.push_back(p.backends[static_cast<size_t>(b)].name);
  return out;
}

using Names = std::vector<std::string>;

inline const Candidate& candidate(const Decision& d, int backend) {
  REQUIRE(d.candidates.size() == 4);
  return d.candidates[static_cast<size_t>(backend)];
}

inline std::string rule_of(const Policy& p, const Candidate& c) {
  return c.rule >= 0 ? p.rules[static_cast<size_t>(c.rule)].id : std::string("none");
}

inline std::string subcode(const Decision& d) { return d.error ? d.error->subcode : std::string("no error"); }

}  // namespace dsgw::policies::decide_fixtures
