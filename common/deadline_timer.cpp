#include "common/deadline_timer.h"

namespace dsgw {

DeadlineTimer::DeadlineTimer() : thread_([this](std::stop_token stop) { run(stop); }) {}

DeadlineTimer::~DeadlineTimer() {
  thread_.request_stop();
  cv_.notify_all();
}

DeadlineTimer::Id DeadlineTimer::schedule(Clock::time_point deadline, std::function<void()> callback) {
  Id id;
  bool earliest;
  {
    std::lock_guard lock(mutex_);
    id = next_id_++;
    earliest = pending_.empty() || deadline < pending_.begin()->first;
    pending_.emplace(deadline, std::make_pair(id, std::move(callback)));
  }
  // The timer thread sleeps until the earliest deadline: wake it only when
  // that changes (most deadlines come after the ones already waiting).
  if (earliest) cv_.notify_all();
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
    if (pending_.empty()) {
      cv_.wait(lock, stop, [&] { return !pending_.empty(); });
      continue;
    }
    const auto next = pending_.begin()->first;
    if (Clock::now() < next) {
      cv_.wait_until(lock, stop, next, [&] { return pending_.empty() || pending_.begin()->first < next; });
      continue;
    }
    auto callback = std::move(pending_.begin()->second.second);
    pending_.erase(pending_.begin());
    lock.unlock();
    callback();
    lock.lock();
  }
}

}  // namespace dsgw
