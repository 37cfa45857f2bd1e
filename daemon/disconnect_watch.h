// Notices clients that leave while their non-streamed request runs on the
// request thread, which is blocked in the backend and cannot look itself.
// One thread looks at every watched connection a few times a second; a
// request that finishes within the first look is never probed.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "common/http/message.h"

namespace dsgw::daemon {

class DisconnectWatch {
 public:
  DisconnectWatch();
  ~DisconnectWatch();
  DisconnectWatch(const DisconnectWatch&) = delete;
  DisconnectWatch& operator=(const DisconnectWatch&) = delete;

  // Watches until destroyed.
  class Registration {
   public:
    Registration(DisconnectWatch& watch, uint64_t id) : watch_(watch), id_(id) {}
    ~Registration() { watch_.forget(id_); }
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;

   private:
    DisconnectWatch& watch_;
    uint64_t id_;
  };

  // Calls `on_gone` once, from the watch thread, if the client of `req`
  // closes its connection. It may run after the registration ended, so it
  // must own what it touches.
  [[nodiscard]] Registration watch(const http::Request& req, std::function<void()> on_gone);

 private:
  struct Entry {
    int fd;  // the client's connection
    std::function<void()> on_gone;
    std::chrono::steady_clock::time_point since;
  };

  void forget(uint64_t id);
  void run(std::stop_token stop);

  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::map<uint64_t, Entry> entries_;
  uint64_t next_id_ = 0;
  std::jthread thread_;  // last: starts after the state above exists
};

}  // namespace dsgw::daemon
