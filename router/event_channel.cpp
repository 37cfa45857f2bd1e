#include "router/event_channel.h"

namespace dsgw::router {

EventChannel::EventChannel(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

bool EventChannel::emit(Event event) {
  std::unique_lock lock(mutex_);
  not_full_.wait(lock, [&] { return cancelled_ || events_.size() < capacity_; });
  if (cancelled_ || closed_) return false;
  events_.push_back(std::move(event));
  lock.unlock();
  not_empty_.notify_one();
  return true;
}

bool EventChannel::cancelled() const {
  std::lock_guard lock(mutex_);
  return cancelled_;
}

void EventChannel::on_cancel(std::function<void()> callback) {
  std::unique_lock lock(mutex_);
  if (cancelled_ && callback) {
    lock.unlock();
    callback();
    return;
  }
  cancel_callback_ = std::move(callback);
}

void EventChannel::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    cancel_callback_ = nullptr;
  }
  not_empty_.notify_all();
}

EventChannel::PopResult EventChannel::pop(Event& out, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!not_empty_.wait_for(lock, timeout, [&] { return !events_.empty() || closed_; })) {
    return PopResult::kTimeout;
  }
  if (events_.empty()) return PopResult::kClosed;
  out = std::move(events_.front());
  events_.pop_front();
  lock.unlock();
  not_full_.notify_one();
  return PopResult::kEvent;
}

void EventChannel::cancel() {
  std::function<void()> callback;
  {
    std::lock_guard lock(mutex_);
    if (cancelled_) return;
    cancelled_ = true;
    callback = std::move(cancel_callback_);
    cancel_callback_ = nullptr;
  }
  not_full_.notify_all();
  if (callback) callback();
}

}  // namespace dsgw::router
