#include "daemon/signals.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace dsgw::daemon {
namespace {

// The self-pipe: handlers write the signal number, wait() reads it.
int g_pipe[2] = {-1, -1};

void on_signal(int sig) {
  const int saved = errno;
  const char byte = static_cast<char>(sig);
  (void)!write(g_pipe[1], &byte, 1);  // non-blocking; a full pipe drops a repeat
  errno = saved;
}

constexpr int kHandled[] = {SIGHUP, SIGTERM, SIGINT};

}  // namespace

Signals::Signals() {
  if (pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) g_pipe[0] = g_pipe[1] = -1;
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int sig : kHandled) sigaction(sig, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

Signals::~Signals() {
  for (int sig : kHandled) signal(sig, SIG_DFL);
  close(g_pipe[0]);
  close(g_pipe[1]);
  g_pipe[0] = g_pipe[1] = -1;
}

Signal Signals::wait(std::chrono::milliseconds timeout) const {
  pollfd p{g_pipe[0], POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return Signal::kNone;
  char byte = 0;
  if (read(g_pipe[0], &byte, 1) != 1) return Signal::kNone;
  if (byte == SIGHUP) return Signal::kReload;
  return Signal::kStop;
}

}  // namespace dsgw::daemon
