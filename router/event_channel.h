// The hand-off between a generation (producer thread) and the front door that
// writes it to the client (consumer thread). The only place in the router where
// those two threads meet.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

#include "router/events.h"

namespace dsgw::router {

class EventChannel final : public EventSink {
 public:
  // `capacity` bounds the buffered events; a full channel blocks the producer,
  // so a slow client slows the upstream read instead of growing memory.
  explicit EventChannel(size_t capacity = 256);

  // Producer side.
  bool emit(Event event) override;
  bool cancelled() const override;
  void on_cancel(std::function<void()> callback) override;
  // The producer is done; the consumer sees kClosed after the buffered events.
  void close();

  // Consumer side.
  enum class PopResult { kEvent, kTimeout, kClosed };
  PopResult pop(Event& out, std::chrono::milliseconds timeout);
  // The consumer is gone: wakes the producer and runs its cancel callback.
  void cancel();

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<Event> events_;
  bool closed_ = false;
  bool cancelled_ = false;
  std::function<void()> cancel_callback_;
};

}  // namespace dsgw::router
