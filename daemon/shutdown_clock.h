// When in-flight work must give up during shutdown. Set once by the signal
// thread; read by every request thread.
#pragma once

#include <atomic>
#include <chrono>

namespace dsgw::daemon {

class ShutdownClock {
 public:
  using Clock = std::chrono::steady_clock;

  void start(std::chrono::milliseconds grace) {
    deadline_ns_.store((Clock::now() + grace).time_since_epoch().count(), std::memory_order_release);
  }
  bool draining() const { return deadline_ns_.load(std::memory_order_acquire) != kNever; }
  bool expired() const {
    const auto d = deadline_ns_.load(std::memory_order_acquire);
    return d != kNever && Clock::now().time_since_epoch().count() >= d;
  }

 private:
  static constexpr Clock::rep kNever = 0;
  std::atomic<Clock::rep> deadline_ns_{kNever};
};

}  // namespace dsgw::daemon
