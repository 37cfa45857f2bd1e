// What the router learns about a backend as traffic flows: its circuit
// breaker and live latency. Kept by backend name across reloads, so a reload
// neither forgets a broken upstream nor resets the latency model.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "policies/latency_model.h"
#include "router/circuit_breaker.h"

namespace dsgw::router {

struct BackendStats {
  explicit BackendStats(CircuitBreaker::Options breaker_options) : breaker(breaker_options) {}
  CircuitBreaker breaker;
  policies::LatencyTracker latency;
};

// Hands out one BackendStats per backend name. Thread-safe.
class BackendStatsRegistry {
 public:
  // The stats for `name`; made with `options` the first time. A breaker keeps
  // the options it was made with until the backend leaves the config.
  std::shared_ptr<BackendStats> get(const std::string& name, CircuitBreaker::Options options) {
    std::lock_guard lock(mutex_);
    auto& slot = stats_[name];
    const auto& o = slot ? slot->breaker.options() : options;
    if (!slot || o.failure_threshold != options.failure_threshold || o.cooldown != options.cooldown) {
      slot = std::make_shared<BackendStats>(options);
    }
    return slot;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<BackendStats>> stats_;
};

}  // namespace dsgw::router
