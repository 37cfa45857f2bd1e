// Process signals turned into events for the main thread. Handlers (not a
// blocked mask) catch them, because libraries may start threads before main()
// that would otherwise receive SIGTERM with its default action.
#pragma once

#include <chrono>

namespace dsgw::daemon {

enum class Signal { kNone, kReload, kStop };

class Signals {
 public:
  Signals();   // installs handlers for SIGHUP, SIGTERM, SIGINT; ignores SIGPIPE
  ~Signals();  // restores the default handlers
  Signals(const Signals&) = delete;
  Signals& operator=(const Signals&) = delete;

  // Waits up to `timeout`: kReload on SIGHUP, kStop on SIGTERM/SIGINT,
  // kNone on timeout.
  Signal wait(std::chrono::milliseconds timeout) const;
};

}  // namespace dsgw::daemon
