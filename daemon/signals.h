// Process signals delivered synchronously to one thread. Construct before any
// other thread starts, so that every thread inherits the blocked mask.
#pragma once

#include <chrono>

namespace dsgw::daemon {

enum class Signal { kNone, kReload, kStop };

class Signals {
 public:
  Signals();  // blocks SIGHUP, SIGTERM, SIGINT; ignores SIGPIPE

  // Waits up to `timeout`: kReload on SIGHUP, kStop on SIGTERM/SIGINT,
  // kNone on timeout.
  Signal wait(std::chrono::milliseconds timeout) const;
};

}  // namespace dsgw::daemon
