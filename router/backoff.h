// How long to wait before retrying a backend: capped exponential backoff with
// full jitter (spreads retries from many requests), at least the upstream's
// Retry-After, and a verdict to fail over instead when Retry-After is too long.
#pragma once

#include <chrono>
#include <optional>
#include <random>

namespace dsgw::router {

struct BackoffPolicy {
  std::chrono::milliseconds base{100};
  std::chrono::milliseconds cap{2'000};
};

// Delay before retry number `attempt` (0 = the first retry; < 0 counts as 0):
// uniform in [0, min(cap, base * 2^attempt)] ("full jitter").
// With a Retry-After from the upstream, the delay is at least that, even above
// `cap`, as long as it is at most `max_retry_after`; above it, std::nullopt:
// do not retry this backend, fail over instead. Negative inputs count as 0.
// The caller owns `rng` (one per thread).
std::optional<std::chrono::milliseconds> retry_delay(const BackoffPolicy& policy, int attempt,
                                                     std::optional<std::chrono::milliseconds> retry_after,
                                                     std::chrono::milliseconds max_retry_after,
                                                     std::mt19937_64& rng);

}  // namespace dsgw::router
