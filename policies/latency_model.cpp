#include "policies/latency_model.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dsgw::policies {
namespace {

constexpr double kDefaultAlpha = 0.2;
constexpr double kNoSample = std::numeric_limits<double>::quiet_NaN();

static_assert(std::atomic<double>::is_always_lock_free, "LatencyTracker must be lock-free");
static_assert(std::atomic<int64_t>::is_always_lock_free, "LatencyTracker must be lock-free");

}  // namespace

LatencyTracker::LatencyTracker(double alpha)
    : alpha_(alpha > 0 && alpha <= 1 ? alpha : kDefaultAlpha), ttft_ms_(kNoSample), tpot_ms_(kNoSample) {}

void LatencyTracker::update(std::atomic<double>& avg, double sample) {
  double old = avg.load(std::memory_order_relaxed);
  double next;
  do {
    next = std::isnan(old) ? sample : old + alpha_ * (sample - old);
  } while (!avg.compare_exchange_weak(old, next, std::memory_order_relaxed));
}

void LatencyTracker::observe(double ttft_ms, double tpot_ms) {
  if (!std::isfinite(ttft_ms) || ttft_ms < 0) return;
  update(ttft_ms_, ttft_ms);
  if (std::isfinite(tpot_ms) && tpot_ms >= 0) update(tpot_ms_, tpot_ms);
  samples_.fetch_add(1, std::memory_order_relaxed);
}

LatencyEstimate LatencyTracker::estimate(const LatencyPrior& prior) const {
  const double ttft = ttft_ms_.load(std::memory_order_relaxed);
  const double tpot = tpot_ms_.load(std::memory_order_relaxed);
  return LatencyEstimate{std::isnan(ttft) ? prior.ttft_ms : ttft, std::isnan(tpot) ? prior.tpot_ms : tpot,
                         samples_.load(std::memory_order_relaxed)};
}

double predicted_completion_ms(const LatencyEstimate& e, int queued, double tokens_per_second,
                               int64_t output_tokens) {
  const double out = output_tokens > 0 ? static_cast<double>(output_tokens) : 0.0;
  double wait_ms = 0;
  if (queued > 0) {
    // tpot 0 is an infinitely fast stream (no wait), as 1000 / 0 would say.
    const double stream_rate = e.tpot_ms > 0 ? 1000.0 / e.tpot_ms : std::numeric_limits<double>::infinity();
    const double rate = std::max(stream_rate, tokens_per_second);  // > 0; a NaN throughput is ignored
    wait_ms = queued * out / rate * 1000.0;
  }
  return wait_ms + e.ttft_ms + e.tpot_ms * out;
}

}  // namespace dsgw::policies
