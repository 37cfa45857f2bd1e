#include "router/backoff.h"

#include <algorithm>
#include <cstdint>

namespace dsgw::router {

std::optional<std::chrono::milliseconds> retry_delay(const BackoffPolicy& policy, int attempt,
                                                     std::optional<std::chrono::milliseconds> retry_after,
                                                     std::chrono::milliseconds max_retry_after,
                                                     std::mt19937_64& rng) {
  using std::chrono::milliseconds;
  const milliseconds floor = std::max(retry_after.value_or(milliseconds{0}), milliseconds{0});
  if (retry_after && floor > max_retry_after) return std::nullopt;

  // min(cap, base * 2^attempt), doubling until the cap so nothing overflows.
  const int64_t cap = std::max<int64_t>(policy.cap.count(), 0);
  int64_t ceiling = std::clamp<int64_t>(policy.base.count(), 0, cap);
  for (int i = 0; i < attempt && ceiling > 0 && ceiling < cap; ++i) {
    ceiling = ceiling > cap / 2 ? cap : ceiling * 2;
  }

  const int64_t jitter = std::uniform_int_distribution<int64_t>(0, ceiling)(rng);
  return std::max(milliseconds{jitter}, floor);
}

}  // namespace dsgw::router
