#include "daemon/disconnect_watch.h"

#include <vector>

#include "common/http/server.h"

namespace dsgw::daemon {
namespace {

constexpr std::chrono::milliseconds kLookEvery{250};

}  // namespace

DisconnectWatch::DisconnectWatch() : thread_([this](std::stop_token stop) { run(stop); }) {}

DisconnectWatch::~DisconnectWatch() {
  thread_.request_stop();
  wake_.notify_all();
}

DisconnectWatch::Registration DisconnectWatch::watch(const http::Request& req, std::function<void()> on_gone) {
  std::lock_guard lock(mutex_);
  const uint64_t id = next_id_++;
  entries_.emplace(id, Entry{req.fd, std::move(on_gone), std::chrono::steady_clock::now()});
  return Registration(*this, id);
}

void DisconnectWatch::forget(uint64_t id) {
  std::lock_guard lock(mutex_);
  entries_.erase(id);
}

void DisconnectWatch::run(std::stop_token stop) {
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    wake_.wait_for(lock, stop, kLookEvery, [] { return false; });
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::function<void()>> gone;
    for (auto it = entries_.begin(); it != entries_.end();) {
      Entry& e = it->second;
      if (now - e.since >= kLookEvery && http::client_gone(e.fd)) {
        gone.push_back(std::move(e.on_gone));
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
    lock.unlock();
    for (auto& callback : gone) callback();
    lock.lock();
  }
}

}  // namespace dsgw::daemon
