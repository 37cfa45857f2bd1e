#include "router/backoff.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <climits>
#include <cstdint>

using namespace std::chrono_literals;
using dsgw::router::BackoffPolicy;
using dsgw::router::retry_delay;
using std::chrono::milliseconds;

namespace {

const BackoffPolicy kPolicy{100ms, 2000ms};
constexpr milliseconds kMaxRetryAfter = 30s;

struct Stats {
  int64_t min = INT64_MAX;
  int64_t max = 0;
  double mean = 0;
};

// Delays for `attempt` over many seeds.
Stats sample(int attempt, std::optional<milliseconds> retry_after = std::nullopt) {
  constexpr int kSeeds = 2000;
  Stats s;
  double sum = 0;
  for (uint64_t seed = 0; seed < kSeeds; ++seed) {
    std::mt19937_64 rng(seed);
    const auto d = retry_delay(kPolicy, attempt, retry_after, kMaxRetryAfter, rng);
    REQUIRE(d.has_value());
    s.min = std::min<int64_t>(s.min, d->count());
    s.max = std::max<int64_t>(s.max, d->count());
    sum += static_cast<double>(d->count());
  }
  s.mean = sum / kSeeds;
  return s;
}

}  // namespace

TEST_CASE("backoff: full jitter stays within [0, min(cap, base * 2^attempt)] and fills it") {
  for (int attempt = 0; attempt <= 6; ++attempt) {
    CAPTURE(attempt);
    const int64_t ceiling = std::min<int64_t>(2000, 100LL << attempt);
    const Stats s = sample(attempt);
    CHECK(s.min >= 0);
    CHECK(s.max <= ceiling);
    CHECK(s.min <= ceiling / 20);        // reaches near 0
    CHECK(s.max >= ceiling * 95 / 100);  // and near the ceiling
    CHECK(s.mean == doctest::Approx(ceiling / 2.0).epsilon(0.08));
  }
}

TEST_CASE("backoff: the delay grows with the attempt until the cap") {
  CHECK(sample(1).mean > sample(0).mean * 1.6);
  CHECK(sample(3).mean > sample(2).mean * 1.6);
  // 100 * 2^5 = 3200 > cap: attempts 5 and beyond stay under 2000.
  for (int attempt : {5, 10, 62, 63, 64, 1000, INT_MAX}) {
    CAPTURE(attempt);
    const Stats s = sample(attempt);
    CHECK(s.max <= 2000);
    CHECK(s.max >= 1900);
  }
  // A negative attempt counts as the first retry.
  CHECK(sample(-3).max <= 100);
}

TEST_CASE("backoff: Retry-After is honoured as a minimum, even above the cap") {
  const Stats above_cap = sample(0, 5000ms);
  CHECK(above_cap.min == 5000);
  CHECK(above_cap.max == 5000);

  // Below the jitter ceiling (800 ms at attempt 3): at least Retry-After, jitter above it.
  const Stats low = sample(3, 50ms);
  CHECK(low.min == 50);
  CHECK(low.max <= 800);
  CHECK(low.max >= 760);

  // Exactly the limit is still honoured.
  std::mt19937_64 rng(7);
  CHECK(retry_delay(kPolicy, 0, kMaxRetryAfter, kMaxRetryAfter, rng) == kMaxRetryAfter);
}

TEST_CASE("backoff: Retry-After beyond the limit means fail over: nullopt") {
  std::mt19937_64 rng(7);
  CHECK_FALSE(retry_delay(kPolicy, 0, kMaxRetryAfter + 1ms, kMaxRetryAfter, rng).has_value());
  CHECK_FALSE(retry_delay(kPolicy, 4, 120s, 60s, rng).has_value());
  CHECK(retry_delay(kPolicy, 4, std::nullopt, 0ms, rng).has_value());  // no Retry-After: no limit
}

TEST_CASE("backoff: the same seed gives the same delays; odd policies stay sane") {
  std::mt19937_64 a(42), b(42);
  for (int attempt = 0; attempt < 8; ++attempt) {
    CHECK(retry_delay(kPolicy, attempt, std::nullopt, kMaxRetryAfter, a) ==
          retry_delay(kPolicy, attempt, std::nullopt, kMaxRetryAfter, b));
  }
  std::mt19937_64 rng(1);
  CHECK(retry_delay(BackoffPolicy{0ms, 2000ms}, INT_MAX, std::nullopt, 1s, rng) == 0ms);
  CHECK(retry_delay(BackoffPolicy{500ms, 200ms}, 0, std::nullopt, 1s, rng) <= 200ms);  // base above cap
  CHECK(retry_delay(BackoffPolicy{100ms, 2000ms}, 0, -5ms, 1s, rng) >= 0ms);           // negative Retry-After
  const auto huge = BackoffPolicy{milliseconds(INT64_MAX / 4), milliseconds(INT64_MAX / 2)};
  CHECK(retry_delay(huge, 100, std::nullopt, 1s, rng) <= huge.cap);  // no overflow
}
