// Live latency per backend, and the predicted time until a whole answer is
// out. Read on every routing decision and written when a request ends, from
// any thread, so the tracker is lock-free.
#pragma once

#include <atomic>
#include <cstdint>

namespace dsgw::policies {

// From policy, used before any measurement.
struct LatencyPrior {
  double ttft_ms = 1000;
  double tpot_ms = 50;
};

struct LatencyEstimate {
  double ttft_ms;
  double tpot_ms;
  int64_t samples;  // observations with a valid ttft so far
};

// Exponentially weighted moving averages of time-to-first-token and
// time-per-output-token: avg += alpha * (sample - avg). The first sample of
// each replaces the prior outright. Each average is updated by compare-and-swap,
// so concurrent observers lose nothing; ttft and tpot are not a joint snapshot.
class LatencyTracker {
 public:
  // `alpha` outside (0, 1] falls back to 0.2.
  explicit LatencyTracker(double alpha = 0.2);

  // tpot_ms < 0 (or not finite): unknown, e.g. a 1-token answer; only ttft
  // updates. ttft_ms < 0 (or not finite): the whole observation is dropped.
  void observe(double ttft_ms, double tpot_ms);

  // The prior until the first sample (per field); the EWMA afterwards.
  LatencyEstimate estimate(const LatencyPrior& prior) const;

  double alpha() const { return alpha_; }

 private:
  void update(std::atomic<double>& avg, double sample);

  double alpha_;
  std::atomic<double> ttft_ms_;  // NaN until the first sample
  std::atomic<double> tpot_ms_;  // NaN until the first sample
  std::atomic<int64_t> samples_{0};
};

// Predicted milliseconds until the whole answer is out:
// queue wait + ttft + tpot * output_tokens.
// Queue wait, for a backend that reports a queue (the local engine: `queued`
// requests, its aggregate `tokens_per_second`): each queued request is assumed
// as long as this one, served at no less than one stream's rate:
// queued * output_tokens / max(tokens_per_second, 1000 / tpot_ms) seconds;
// 0 when queued <= 0. Negative output_tokens count as 0.
double predicted_completion_ms(const LatencyEstimate& e, int queued, double tokens_per_second,
                               int64_t output_tokens);

}  // namespace dsgw::policies
