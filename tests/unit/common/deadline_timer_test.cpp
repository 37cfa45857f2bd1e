#include "common/deadline_timer.h"

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <vector>

#include "tests/unit/test_util.h"

using namespace std::chrono_literals;
using dsgw::DeadlineTimer;
using dsgw::test::eventually;

TEST_CASE("DeadlineTimer runs a callback once its deadline passes") {
  DeadlineTimer timer;
  std::atomic<int> runs{0};
  const auto start = DeadlineTimer::Clock::now();
  std::atomic<int64_t> fired_after_ms{-1};
  timer.schedule(start + 30ms, [&] {
    fired_after_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         DeadlineTimer::Clock::now() - start).count();
    ++runs;
  });
  REQUIRE(eventually([&] { return runs.load() == 1; }));
  CHECK(fired_after_ms.load() >= 30);
  std::this_thread::sleep_for(20ms);
  CHECK(runs.load() == 1);
}

TEST_CASE("DeadlineTimer runs callbacks in deadline order, also when scheduled out of order") {
  DeadlineTimer timer;
  std::mutex mutex;
  std::vector<int> order;
  auto record = [&](int n) {
    return [&, n] {
      std::lock_guard lock(mutex);
      order.push_back(n);
    };
  };
  const auto now = DeadlineTimer::Clock::now();
  timer.schedule(now + 300ms, record(3));
  timer.schedule(now + 100ms, record(1));
  timer.schedule(now + 200ms, record(2));
  REQUIRE(eventually([&] {
    std::lock_guard lock(mutex);
    return order.size() == 3;
  }));
  CHECK(order == std::vector<int>{1, 2, 3});
}

TEST_CASE("DeadlineTimer wakes up for an earlier deadline scheduled after a later one") {
  DeadlineTimer timer;
  std::atomic<bool> early{false};
  const auto now = DeadlineTimer::Clock::now();
  const auto late_id = timer.schedule(now + 10s, [] {});
  timer.schedule(now + 10ms, [&] { early = true; });
  CHECK(eventually([&] { return early.load(); }, 2s));
  CHECK(timer.cancel(late_id));
}

TEST_CASE("DeadlineTimer::cancel returns true before the callback runs and false after") {
  DeadlineTimer timer;
  std::atomic<int> runs{0};
  const auto now = DeadlineTimer::Clock::now();

  const auto pending = timer.schedule(now + 200ms, [&] { ++runs; });
  CHECK(timer.cancel(pending));
  CHECK_FALSE(timer.cancel(pending));  // already cancelled

  const auto fired = timer.schedule(now, [&] { ++runs; });
  REQUIRE(eventually([&] { return runs.load() == 1; }));
  CHECK_FALSE(timer.cancel(fired));

  std::this_thread::sleep_until(now + 300ms);  // past the cancelled deadline
  CHECK(runs.load() == 1);
  CHECK_FALSE(timer.cancel(987654));  // never scheduled
}

TEST_CASE("DeadlineTimer gives each schedule a distinct id") {
  DeadlineTimer timer;
  const auto later = DeadlineTimer::Clock::now() + 10s;
  const auto a = timer.schedule(later, [] {});
  const auto b = timer.schedule(later, [] {});
  CHECK(a != b);
  CHECK(timer.cancel(b));
  CHECK(timer.cancel(a));
}

TEST_CASE("DeadlineTimer destruction does not run or wait for far-off callbacks") {
  std::atomic<int> runs{0};
  const auto start = std::chrono::steady_clock::now();
  {
    DeadlineTimer timer;
    timer.schedule(DeadlineTimer::Clock::now() + 30s, [&] { ++runs; });
  }
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK(runs.load() == 0);
}

TEST_CASE("DeadlineTimer fires on time a deadline that falls between its idle wake-ups") {
  DeadlineTimer timer;
  std::this_thread::sleep_for(50ms);  // the thread sleeps, idle, with nothing pending
  for (const auto delay : {1500ms, 40ms}) {
    CAPTURE(delay.count());
    std::atomic<int64_t> fired_after_ms{-1};
    const auto start = DeadlineTimer::Clock::now();
    timer.schedule(start + delay, [&] {
      fired_after_ms = std::chrono::duration_cast<std::chrono::milliseconds>(DeadlineTimer::Clock::now() - start)
                           .count();
    });
    REQUIRE(eventually([&] { return fired_after_ms.load() >= 0; }, 5s));
    CHECK(fired_after_ms.load() >= delay.count());
    CHECK(fired_after_ms.load() < delay.count() + 400);
  }
}
