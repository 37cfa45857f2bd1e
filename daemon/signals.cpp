#include "daemon/signals.h"

#include <pthread.h>
#include <signal.h>

#include <cerrno>

namespace dsgw::daemon {
namespace {

sigset_t handled_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

Signals::Signals() {
  const sigset_t set = handled_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

Signal Signals::wait(std::chrono::milliseconds timeout) const {
  const sigset_t set = handled_set();
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  ts.tv_nsec = static_cast<long>((timeout.count() % 1000) * 1'000'000);
  const int sig = sigtimedwait(&set, nullptr, &ts);
  if (sig == SIGHUP) return Signal::kReload;
  if (sig == SIGTERM || sig == SIGINT) return Signal::kStop;
  return Signal::kNone;
}

}  // namespace dsgw::daemon
