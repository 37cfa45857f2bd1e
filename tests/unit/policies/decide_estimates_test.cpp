// decide() with estimates: ordering by estimated cost and predicted latency, latency budgets,
// the request's max cost, and USD and token budgets. The fixtures are in decide_fixtures.h.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "policies/decide.h"
#include "tests/unit/policies/decide_fixtures.h"
#include "tests/unit/test_util.h"

using namespace dsgw::policies::decide_fixtures;
using dsgw::ErrorCode;
using dsgw::policies::Decision;
using dsgw::policies::Policy;
using dsgw::policies::Prefer;
using dsgw::policies::RequestFacts;
using dsgw::policies::SpendSoFar;
using dsgw::policies::Verdict;
using dsgw::test::contains;

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
