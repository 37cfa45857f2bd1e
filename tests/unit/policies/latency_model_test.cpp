#include "policies/latency_model.h"

#include <doctest/doctest.h>

#include <cmath>
#include <thread>
#include <vector>

using dsgw::policies::LatencyEstimate;
using dsgw::policies::LatencyPrior;
using dsgw::policies::LatencyTracker;
using dsgw::policies::predicted_completion_ms;

TEST_CASE("latency: the prior until the first sample, which replaces it outright") {
  LatencyTracker t(0.2);
  const LatencyPrior prior{800, 40};
  auto e = t.estimate(prior);
  CHECK(e.ttft_ms == 800);
  CHECK(e.tpot_ms == 40);
  CHECK(e.samples == 0);

  t.observe(400, 30);
  e = t.estimate(prior);
  CHECK(e.ttft_ms == 400);
  CHECK(e.tpot_ms == 30);
  CHECK(e.samples == 1);
}

TEST_CASE("latency: later samples move the EWMA by alpha") {
  LatencyTracker t(0.2);
  const LatencyPrior prior;
  t.observe(400, 30);
  t.observe(600, 40);
  auto e = t.estimate(prior);
  CHECK(e.ttft_ms == doctest::Approx(440));  // 400 + 0.2 * (600 - 400)
  CHECK(e.tpot_ms == doctest::Approx(32));   // 30 + 0.2 * (40 - 30)
  CHECK(e.samples == 2);

  // Unknown tpot (a 1-token answer): only ttft moves.
  t.observe(240, -1);
  e = t.estimate(prior);
  CHECK(e.ttft_ms == doctest::Approx(400));  // 440 + 0.2 * (240 - 440)
  CHECK(e.tpot_ms == doctest::Approx(32));
  CHECK(e.samples == 3);

  // A bad ttft drops the whole observation.
  t.observe(-5, 10);
  t.observe(std::nan(""), 10);
  e = t.estimate(prior);
  CHECK(e.ttft_ms == doctest::Approx(400));
  CHECK(e.tpot_ms == doctest::Approx(32));
  CHECK(e.samples == 3);
}

TEST_CASE("latency: tpot keeps its prior until the first sample that has one") {
  LatencyTracker t;
  const LatencyPrior prior{1000, 50};
  t.observe(300, -1);
  auto e = t.estimate(prior);
  CHECK(e.ttft_ms == 300);
  CHECK(e.tpot_ms == 50);
  t.observe(300, 20);
  e = t.estimate(prior);
  CHECK(e.tpot_ms == 20);  // replaces the prior, no blending
  CHECK(e.samples == 2);
}

TEST_CASE("latency: alpha outside (0, 1] falls back to 0.2") {
  CHECK(LatencyTracker(0).alpha() == 0.2);
  CHECK(LatencyTracker(1.5).alpha() == 0.2);
  CHECK(LatencyTracker(std::nan("")).alpha() == 0.2);
  CHECK(LatencyTracker(1).alpha() == 1);
  LatencyTracker last_wins(1);
  last_wins.observe(100, 10);
  last_wins.observe(300, 30);
  CHECK(last_wins.estimate({}).ttft_ms == 300);
  CHECK(last_wins.estimate({}).tpot_ms == 30);
}

TEST_CASE("latency: concurrent observers lose no samples") {
  LatencyTracker t(0.1);
  constexpr int kThreads = 8;
  constexpr int kEach = 20'000;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&t, i] {
      for (int n = 0; n < kEach; ++n) t.observe(100 + i, 10 + i);
    });
  }
  for (auto& th : threads) th.join();
  const auto e = t.estimate({});
  CHECK(e.samples == kThreads * kEach);
  CHECK(e.ttft_ms >= 100);
  CHECK(e.ttft_ms <= 100 + kThreads - 1);
  CHECK(e.tpot_ms >= 10);
  CHECK(e.tpot_ms <= 10 + kThreads - 1);
}

TEST_CASE("latency: predicted completion adds queue wait, ttft and tpot per output token") {
  const LatencyEstimate e{200, 20, 5};  // one stream: 50 tokens/s
  // No queue: 200 + 20 * 100.
  CHECK(predicted_completion_ms(e, 0, 150, 100) == doctest::Approx(2200));
  // 3 queued requests of ~100 tokens at 150 tokens/s aggregate: 2 s of wait.
  CHECK(predicted_completion_ms(e, 3, 150, 100) == doctest::Approx(4200));
  // Aggregate throughput below one stream's rate: the stream's rate counts (300 / 50 = 6 s).
  CHECK(predicted_completion_ms(e, 3, 10, 100) == doctest::Approx(8200));
  CHECK(predicted_completion_ms(e, 3, 0, 100) == doctest::Approx(8200));
  // No output expected: only ttft.
  CHECK(predicted_completion_ms(e, 3, 150, 0) == doctest::Approx(200));
  CHECK(predicted_completion_ms(e, 3, 150, -7) == doctest::Approx(200));
  // A backend without a queue.
  CHECK(predicted_completion_ms(e, -1, 0, 100) == doctest::Approx(2200));
  // tpot 0: an infinitely fast stream, no wait and no division by zero.
  CHECK(predicted_completion_ms(LatencyEstimate{200, 0, 1}, 3, 0, 100) == doctest::Approx(200));
}
