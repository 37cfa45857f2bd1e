#include "router/circuit_breaker.h"

#include <doctest/doctest.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using dsgw::router::CircuitBreaker;
using State = CircuitBreaker::State;

namespace {

const CircuitBreaker::Clock::time_point kT0 = CircuitBreaker::Clock::time_point{} + 1h;

// A breaker opened at kT0 by `threshold` failures.
void open_at_t0(CircuitBreaker& b) {
  for (int i = 0; i < b.options().failure_threshold; ++i) b.on_failure(kT0);
  REQUIRE(b.state(kT0) == State::kOpen);
}

}  // namespace

TEST_CASE("breaker: opens after the threshold of consecutive failures") {
  CircuitBreaker b({5, 10s});
  CHECK(b.state(kT0) == State::kClosed);
  CHECK(b.allow(kT0));

  for (int i = 0; i < 4; ++i) b.on_failure(kT0);
  CHECK(b.state(kT0) == State::kClosed);
  CHECK(b.allow(kT0));

  b.on_success();  // breaks the run
  for (int i = 0; i < 4; ++i) b.on_failure(kT0);
  CHECK(b.state(kT0) == State::kClosed);

  b.on_failure(kT0);
  CHECK(b.state(kT0) == State::kOpen);
  CHECK_FALSE(b.allow(kT0));
  CHECK_FALSE(b.allow(kT0 + 9999ms));
  CHECK(b.state(kT0 + 9999ms) == State::kOpen);
}

TEST_CASE("breaker: after the cooldown exactly one probe goes through; its success closes it") {
  CircuitBreaker b({3, 10s});
  open_at_t0(b);

  CHECK(b.state(kT0 + 10s) == State::kHalfOpen);  // reads half-open before anyone asks
  CHECK(b.allow(kT0 + 10s));
  CHECK(b.state(kT0 + 10s) == State::kHalfOpen);
  CHECK_FALSE(b.allow(kT0 + 10s));
  CHECK_FALSE(b.allow(kT0 + 60s));

  b.on_success();
  CHECK(b.state(kT0 + 60s) == State::kClosed);
  CHECK(b.allow(kT0 + 60s));
  CHECK(b.allow(kT0 + 60s));

  // The count starts afresh: it takes the full threshold to open again.
  b.on_failure(kT0 + 61s);
  b.on_failure(kT0 + 61s);
  CHECK(b.state(kT0 + 61s) == State::kClosed);
  b.on_failure(kT0 + 61s);
  CHECK(b.state(kT0 + 61s) == State::kOpen);
}

TEST_CASE("breaker: a failed probe re-opens it and restarts the cooldown") {
  CircuitBreaker b({3, 10s});
  open_at_t0(b);
  REQUIRE(b.allow(kT0 + 15s));
  b.on_failure(kT0 + 15s);
  CHECK(b.state(kT0 + 15s) == State::kOpen);
  CHECK_FALSE(b.allow(kT0 + 24s));  // 10 s from the first opening, but only 9 s from the second
  CHECK(b.state(kT0 + 24s) == State::kOpen);
  CHECK(b.allow(kT0 + 25s));
  CHECK_FALSE(b.allow(kT0 + 25s));
}

TEST_CASE("breaker: an abandoned probe frees the probe slot without counting a failure") {
  CircuitBreaker b({3, 10s});
  open_at_t0(b);
  REQUIRE(b.allow(kT0 + 10s));
  REQUIRE_FALSE(b.allow(kT0 + 10s));
  b.on_abandoned();
  CHECK(b.state(kT0 + 10s) == State::kHalfOpen);
  CHECK(b.allow(kT0 + 10s));
  CHECK_FALSE(b.allow(kT0 + 10s));
  b.on_success();
  CHECK(b.state(kT0 + 10s) == State::kClosed);

  // Abandoning outside half-open changes nothing.
  b.on_abandoned();
  CHECK(b.state(kT0 + 10s) == State::kClosed);
  open_at_t0(b);
  b.on_abandoned();
  CHECK(b.state(kT0 + 1s) == State::kOpen);
  CHECK_FALSE(b.allow(kT0 + 1s));
}

TEST_CASE("breaker: late answers while open neither close it nor extend the cooldown") {
  CircuitBreaker b({3, 10s});
  open_at_t0(b);
  b.on_success();  // a request sent before it opened
  CHECK(b.state(kT0 + 1s) == State::kOpen);
  CHECK_FALSE(b.allow(kT0 + 1s));
  b.on_failure(kT0 + 5s);
  CHECK(b.state(kT0 + 10s) == State::kHalfOpen);
  CHECK(b.allow(kT0 + 10s));
}

TEST_CASE("breaker: a threshold below 1 opens on the first failure") {
  CircuitBreaker b({0, 1s});
  CHECK(b.options().failure_threshold == 1);
  b.on_failure(kT0);
  CHECK(b.state(kT0) == State::kOpen);
}

TEST_CASE("breaker: state names") {
  CHECK(CircuitBreaker::name(State::kClosed) == "closed");
  CHECK(CircuitBreaker::name(State::kOpen) == "open");
  CHECK(CircuitBreaker::name(State::kHalfOpen) == "half_open");
}

TEST_CASE("breaker: many threads asking a half-open breaker get exactly one probe") {
  constexpr int kThreads = 16;
  for (int round = 0; round < 20; ++round) {
    CircuitBreaker b({2, 10s});
    open_at_t0(b);
    std::atomic<int> allowed{0};
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        for (int n = 0; n < 200; ++n) {
          if (b.allow(kT0 + 10s)) allowed.fetch_add(1);
        }
      });
    }
    for (auto& t : threads) t.join();
    REQUIRE(allowed.load() == 1);
  }
}

TEST_CASE("breaker: default options are 5 failures and 10 s") {
  CircuitBreaker b;
  CHECK(b.options().failure_threshold == 5);
  CHECK(b.options().cooldown == 10s);
  for (int i = 0; i < 5; ++i) b.on_failure(kT0);
  CHECK(b.state(kT0 + 9s) == State::kOpen);
  CHECK(b.state(kT0 + 10s) == State::kHalfOpen);
}
