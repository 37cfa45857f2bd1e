#include "common/deadline_timer.h"

namespace dsgw {

DeadlineTimer::DeadlineTimer() : thread_([this](std::stop_token stop) { run(stop); }) {}

DeadlineTimer::~DeadlineTimer() {
  thread_.request_stop();
  cv_.notify_all();
}

DeadlineTimer::Id DeadlineTimer::schedule(Clock::time_point deadline, std::function<void()> callback) {
  std::lock_guard lock(mutex_);
  const Id id = next_id_++;
  pending_.emplace(deadline, std::make_pair(id, std::move(callback)));
  // Most deadlines fall after the thread's next wake-up (timeouts are
  // seconds long): only an earlier one needs it now.
  if (deadline < wakes_at_) cv_.notify_all();
  return id;
}

bool DeadlineTimer::cancel(Id id) {
  std::lock_guard lock(mutex_);
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->second.first == id) {
      pending_.erase(it);
      return true;
    }
  }
  return false;
}

void DeadlineTimer::run(std::stop_token stop) {
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    const auto now = Clock::now();
    if (!pending_.empty() && pending_.begin()->first <= now) {
      auto callback = std::move(pending_.begin()->second.second);
      pending_.erase(pending_.begin());
      lock.unlock();
      callback();
      lock.lock();
      continue;
    }
    // With nothing due, wake after kIdleWake anyway, so that schedule()
    // rarely has to wake the thread (a wake-up per request shows at 1,000/s).
    wakes_at_ = pending_.empty() ? now + kIdleWake : pending_.begin()->first;
    cv_.wait_until(lock, stop, wakes_at_, [&] { return !pending_.empty() && pending_.begin()->first < wakes_at_; });
    wakes_at_ = Clock::time_point::min();  // awake: schedule() need not notify
  }
}

}  // namespace dsgw
