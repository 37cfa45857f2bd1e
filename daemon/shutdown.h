// Shutdown in two steps: draining (stop taking new work; in-flight work goes
// on), then cut-off when the grace period is over (in-flight work is
// cancelled). Set by the main thread, read by every request thread.
#pragma once

#include <atomic>
#include <stop_token>

namespace dsgw::daemon {

class Shutdown {
 public:
  void begin_draining() { draining_.store(true, std::memory_order_release); }
  bool draining() const { return draining_.load(std::memory_order_acquire); }

  void cut_off() { cut_off_.request_stop(); }
  bool is_cut_off() const { return cut_off_.stop_requested(); }
  // Fires when in-flight work must give up.
  std::stop_token cut_off_token() const { return cut_off_.get_token(); }

 private:
  std::atomic<bool> draining_{false};
  std::stop_source cut_off_;
};

}  // namespace dsgw::daemon
