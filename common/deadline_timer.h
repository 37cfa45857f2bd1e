// Runs callbacks at deadlines on one thread of its own. Callbacks must be
// quick and must not call back into the timer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace dsgw {

class DeadlineTimer {
 public:
  using Clock = std::chrono::steady_clock;
  using Id = uint64_t;

  DeadlineTimer();
  ~DeadlineTimer();
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  Id schedule(Clock::time_point deadline, std::function<void()> callback);
  // Returns false if the callback already ran (or is running) or was cancelled.
  bool cancel(Id id);

 private:
  static constexpr std::chrono::seconds kIdleWake{1};

  void run(std::stop_token stop);

  std::mutex mutex_;
  std::condition_variable_any cv_;
  std::multimap<Clock::time_point, std::pair<Id, std::function<void()>>> pending_;
  Id next_id_ = 1;
  Clock::time_point wakes_at_ = Clock::time_point::min();  // when the sleeping thread wakes
  std::jthread thread_;  // last: started after the state above exists
};

}  // namespace dsgw
