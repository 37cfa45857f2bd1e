// Stops sending requests to a backend that keeps failing, and lets one probe
// through after a cooldown to find out whether it has recovered. One breaker
// per backend, shared by the request threads (a mutex guards it). Times are
// passed in so tests can drive the clock.
#pragma once

#include <chrono>
#include <mutex>
#include <string_view>

namespace dsgw::router {

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    int failure_threshold = 5;  // consecutive failures that open it; < 1 counts as 1
    std::chrono::milliseconds cooldown{10'000};
  };
  enum class State { kClosed, kOpen, kHalfOpen };

  // Default options. (Not `Options options = {}`: g++ rejects a default
  // argument built from a nested struct's member initialisers in its class.)
  CircuitBreaker();
  explicit CircuitBreaker(Options options);

  // Whether a request may be sent now. Closed: yes. Open: no until `cooldown`
  // has passed since it opened; then it turns half-open and lets exactly one
  // probe through (true once); further calls return false while the probe is out.
  bool allow(Clock::time_point now = Clock::now());

  // Closed: resets the failure count. Half-open: closes it. Open: ignored, as
  // it comes from a request sent before the breaker opened; only the cooldown
  // and a probe's outcome decide when it closes.
  void on_success();

  // Closed: counts consecutive failures, opens at the threshold. Half-open:
  // re-opens (the cooldown restarts). Open: ignored (a late answer from a
  // request sent before it opened must not extend the cooldown).
  void on_failure(Clock::time_point now = Clock::now());

  // The probe's caller will never report (the request was cancelled):
  // a half-open breaker lets the next allow() probe again. No failure counted.
  void on_abandoned();

  // Open past its cooldown reads as kHalfOpen.
  State state(Clock::time_point now = Clock::now()) const;

  static std::string_view name(State state);  // "closed" | "open" | "half_open"

  const Options& options() const { return options_; }

 private:
  const Options options_;
  mutable std::mutex mu_;
  State state_ = State::kClosed;  // as last changed; Open may be past its cooldown
  int failures_ = 0;              // consecutive, while closed
  Clock::time_point opened_at_{};
  bool probe_out_ = false;  // half-open: the one probe has been let through
};

}  // namespace dsgw::router
