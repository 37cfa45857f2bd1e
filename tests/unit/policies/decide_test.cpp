#include "policies/decide.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "policies/policy_loader.h"
#include "tests/unit/test_util.h"

using namespace std::chrono;
using dsgw::ErrorCode;
using dsgw::policies::BackendFacts;
using dsgw::policies::BackendState;
using dsgw::policies::Candidate;
using dsgw::policies::Decision;
using dsgw::policies::decide;
using dsgw::policies::PiiType;
using dsgw::policies::Policy;
using dsgw::policies::Prefer;
using dsgw::policies::RequestFacts;
using dsgw::policies::SpendSoFar;
using dsgw::policies::Verdict;
using dsgw::policies::pii::Finding;
using dsgw::test::contains;
using dsgw::test::TempDir;

namespace {

enum { kLocal, kSite, kCn, kEu };

// "m" is served by all four; "chat" only by cn-api.
const std::vector<BackendFacts> kBackends{
    {"local", "device", {"m"}},
    {"site", "site", {"m"}},
    {"cn-api", "cn", {"m", "chat"}},
    {"eu-api", "eu", {"m"}},
};

const std::string kHead = R"(
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
const std::string kPrices = R"(
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

Policy policy_with(const std::string& rules, const std::string& prices = kPrices) {
  TempDir dir;
  auto p = dsgw::policies::load_policy(dir.write("policy.toml", kHead + prices + rules), kBackends);
  REQUIRE_MESSAGE(p.has_value(), p.error().message);
  return std::move(p.value());
}

// All serve the model and are usable; predicted completion with 100 output
// tokens: local 1100 ms, site 1200, cn-api 1300, eu-api 1400.
std::vector<BackendState> states() {
  std::vector<BackendState> s(4);
  for (int i = 0; i < 4; ++i) {
    s[static_cast<size_t>(i)].serves_model = true;
    s[static_cast<size_t>(i)].latency = {100.0 * (i + 1), 10, 5};
  }
  return s;
}

// Only `backend` serves the model (as with "chat").
std::vector<BackendState> only_serving(int backend) {
  auto s = states();
  for (size_t i = 0; i < s.size(); ++i) s[i].serves_model = static_cast<int>(i) == backend;
  return s;
}

RequestFacts facts(const std::string& tenant = "anonymous", const std::string& model = "m") {
  RequestFacts f;
  f.tenant = tenant;
  f.model = model;
  f.prompt_tokens = 1000;
  return f;
}

Finding found(PiiType type, double confidence = 1.0) { return Finding{type, 0, 16, confidence}; }

const system_clock::time_point kNoon = sys_days(year(2025) / October / 1) + hours(12);

system_clock::time_point at(int hour, int minute) { return sys_days(year(2025) / October / 1) + hours(hour) + minutes(minute); }

Decision run(const Policy& p, const RequestFacts& f, const std::vector<BackendState>& s = states(),
             const SpendSoFar& spend = {}, system_clock::time_point now = kNoon) {
  return decide(p, f, s, spend, now);
}

std::vector<std::string> order_of(const Policy& p, const Decision& d) {
  std::vector<std::string> out;
  for (int b : d.order) out.push_back(p.backends[static_cast<size_t>(b)].name);
  return out;
}

using Names = std::vector<std::string>;

const Candidate& candidate(const Decision& d, int backend) {
  REQUIRE(d.candidates.size() == 4);
  return d.candidates[static_cast<size_t>(backend)];
}

std::string rule_of(const Policy& p, const Candidate& c) {
  return c.rule >= 0 ? p.rules[static_cast<size_t>(c.rule)].id : std::string("none");
}

std::string subcode(const Decision& d) { return d.error ? d.error->subcode : std::string("no error"); }

}  // namespace

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

TEST_CASE("decide: prefer = cost orders by estimated cost, ties by predicted latency") {
  const Policy p = policy_with(R"(
[[rule]]
id = "cheap"
[rule.then]
prefer = "cost"
)");
  Decision d = run(p, facts());
  CHECK(order_of(p, d) == Names{"site", "local", "cn-api", "eu-api"});
  CHECK(candidate(d, kSite).cost_usd == 0.0);
  CHECK(candidate(d, kCn).cost_usd == doctest::Approx(0.0012));
  CHECK(candidate(d, kEu).cost_usd == doctest::Approx(0.0036));
  CHECK(candidate(d, kLocal).cost_usd > 0.0);
  CHECK(candidate(d, kLocal).cost_usd < candidate(d, kCn).cost_usd);

  // Equal prices: the faster one first, whatever the table order.
  const Policy same = policy_with(R"(
[[rule]]
id = "cheap"
[rule.then]
prefer = "cost"
)", R"(
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
input_cache_miss = 1.0
output = 2.0
)");
  auto s = states();
  s[kLocal].latency.ttft_ms = 500;  // local 1500 ms, site 1200: both free
  s[kEu].latency.ttft_ms = 350;     // eu 1350 ms, cn 1300
  d = run(same, facts(), s);
  CHECK(order_of(same, d) == Names{"site", "local", "cn-api", "eu-api"});
  s[kEu].latency.ttft_ms = 150;  // eu 1150 ms now beats cn
  d = run(same, facts(), s);
  CHECK(order_of(same, d) == Names{"site", "local", "eu-api", "cn-api"});
}

TEST_CASE("decide: prefer = latency orders by predicted completion; prefer = order follows the list") {
  const Policy p = policy_with("");
  auto s = states();
  Decision d = run(p, facts(), s);
  CHECK(d.prefer == Prefer::kLatency);
  CHECK(order_of(p, d) == Names{"local", "site", "cn-api", "eu-api"});
  CHECK(candidate(d, kLocal).latency_ms == doctest::Approx(1100));
  s[kLocal].latency = {3000, 10, 9};
  s[kEu].latency = {50, 5, 9};
  d = run(p, facts(), s);
  CHECK(order_of(p, d) == Names{"eu-api", "site", "cn-api", "local"});

  // max_tokens replaces expected_output_tokens in the estimate.
  RequestFacts f = facts();
  f.max_tokens = 1000;
  d = run(p, f, s);
  CHECK(d.output_tokens == 1000);
  CHECK(candidate(d, kSite).latency_ms == doctest::Approx(200 + 10 * 1000));

  const Policy ordered = policy_with(R"(
[[rule]]
id = "explicit"
[rule.then]
order = ["eu-api", "local"]
)");
  d = run(ordered, facts());
  CHECK(d.prefer == Prefer::kOrder);
  CHECK(order_of(ordered, d) == Names{"eu-api", "local", "site", "cn-api"});
}

TEST_CASE("decide: backends predicted to miss the latency budget are kept but tried last") {
  const Policy p = policy_with(R"(
[[rule]]
id = "explicit"
[rule.then]
order = ["eu-api", "cn-api", "site", "local"]
)");
  RequestFacts f = facts();
  f.latency_budget_ms = 1250;  // cn-api (1300) and eu-api (1400) would miss it
  Decision d = run(p, f);
  CHECK(order_of(p, d) == Names{"site", "local", "eu-api", "cn-api"});
  CHECK(candidate(d, kEu).verdict == Verdict::kKept);
  CHECK(candidate(d, kEu).over_latency_budget);
  CHECK_FALSE(candidate(d, kSite).over_latency_budget);

  // Every one too slow: all kept, in preference order.
  f.latency_budget_ms = 10;
  d = run(p, f);
  CHECK(order_of(p, d) == Names{"eu-api", "cn-api", "site", "local"});
  CHECK_FALSE(d.error.has_value());
}

TEST_CASE("decide: a long local queue makes the local model slow, so it spills over") {
  const Policy p = policy_with(R"(
[[rule]]
id = "local-first"
[rule.then]
order = ["local", "cn-api"]
slo_ms = 5000
)");
  auto s = states();
  Decision d = run(p, facts(), s);
  CHECK(order_of(p, d).front() == "local");

  // 30 queued requests of 100 tokens at max(50 tok/s reported, 100 tok/s one stream): 30 s of waiting.
  s[kLocal].queued = 30;
  s[kLocal].tokens_per_second = 50;
  d = run(p, facts(), s);
  CHECK(candidate(d, kLocal).latency_ms == doctest::Approx(30'000 + 1100));
  CHECK(candidate(d, kLocal).over_latency_budget);
  CHECK(candidate(d, kLocal).verdict == Verdict::kKept);
  CHECK(order_of(p, d) == Names{"cn-api", "site", "eu-api", "local"});

  // A faster engine drains the same queue in time.
  s[kLocal].tokens_per_second = 1000;
  d = run(p, facts(), s);
  CHECK(order_of(p, d).front() == "local");
}

TEST_CASE("decide: backends estimated above the request's max cost are eliminated") {
  const Policy p = policy_with("");
  RequestFacts f = facts();
  f.max_cost_usd = 0.002;
  Decision d = run(p, f);
  CHECK(candidate(d, kCn).verdict == Verdict::kKept);
  CHECK(candidate(d, kEu).verdict == Verdict::kOverMaxCost);
  CHECK(order_of(p, d) == Names{"local", "site", "cn-api"});

  f.max_cost_usd = 0;  // only the free site backend fits
  d = run(p, f);
  CHECK(order_of(p, d) == Names{"site"});
  CHECK(candidate(d, kLocal).verdict == Verdict::kOverMaxCost);
}

TEST_CASE("decide: a spent USD budget is refused with budget_exceeded; what is left eliminates expensive backends") {
  const Policy p = policy_with("");
  SpendSoFar spend;
  spend.usd_today = 1.0;  // == usd_per_day
  Decision d = run(p, facts("budget"), states(), spend);
  REQUIRE(d.error.has_value());
  CHECK(d.error->code == ErrorCode::kOverloaded);
  CHECK(subcode(d) == "budget_exceeded");
  CHECK(d.error->retry_after_seconds.has_value());
  CHECK(contains(d.error->message, "budget"));
  CHECK(d.order.empty());

  spend = {};
  spend.usd_month = 10.5;  // over the month's, under the day's
  CHECK(subcode(run(p, facts("budget"), states(), spend)) == "budget_exceeded");

  // $0.002 left: cn-api ($0.0012) fits, eu-api ($0.0036) does not; local and site are cheap.
  spend = {};
  spend.usd_today = 0.998;
  spend.usd_month = 0.998;
  d = run(p, facts("budget"), states(), spend);
  REQUIRE_FALSE(d.error.has_value());
  REQUIRE(d.remaining_usd.has_value());
  CHECK(*d.remaining_usd == doctest::Approx(0.002));
  CHECK(candidate(d, kEu).verdict == Verdict::kOverBudget);
  CHECK(candidate(d, kCn).verdict == Verdict::kKept);
  CHECK(order_of(p, d) == Names{"local", "site", "cn-api"});

  // Only cn-api serves "chat", and it costs more than the $0.001 left.
  spend.usd_today = 0.999;
  d = run(p, facts("budget", "chat"), only_serving(kCn), spend);
  REQUIRE(d.error.has_value());
  CHECK(subcode(d) == "budget_exceeded");
  CHECK(contains(d.error->message, "cost more than"));

  // Someone else's spending is not this tenant's problem: no budget, no limit.
  spend.usd_today = 1000;
  d = run(p, facts("anonymous"), states(), spend);
  CHECK_FALSE(d.error.has_value());
  CHECK_FALSE(d.remaining_usd.has_value());
}

TEST_CASE("decide: token budgets") {
  const Policy p = policy_with("");
  SpendSoFar spend;
  spend.tokens_today = 999;
  spend.tokens_month = 999;
  CHECK_FALSE(run(p, facts("tokens"), states(), spend).error.has_value());
  spend.tokens_today = 1000;
  spend.tokens_month = 1000;
  Decision d = run(p, facts("tokens"), states(), spend);
  CHECK(subcode(d) == "budget_exceeded");
  CHECK(contains(d.error->message, "daily token budget"));
  spend.tokens_today = 0;
  spend.tokens_month = 5000;
  d = run(p, facts("tokens"), states(), spend);
  CHECK(subcode(d) == "budget_exceeded");
  CHECK(contains(d.error->message, "monthly token budget"));
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
