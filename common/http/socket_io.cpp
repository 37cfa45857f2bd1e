#include "common/http/socket_io.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>

namespace dsgw::http {

void set_socket_timeout(int fd, int option, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
  setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

ssize_t recv_some(int fd, std::string& buffer) {
  char chunk[kReadChunk];
  ssize_t n;
  do {
    n = ::recv(fd, chunk, sizeof chunk, 0);
  } while (n < 0 && errno == EINTR);
  if (n > 0) buffer.append(chunk, static_cast<std::size_t>(n));
  return n;
}

}  // namespace dsgw::http
