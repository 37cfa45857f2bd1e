#include "daemon/open_sockets.h"

#include <netdb.h>
#include <sys/socket.h>

#include <cstdlib>
#include <filesystem>

namespace dsgw::daemon {
namespace {

// The numeric host and port of one end of `fd`, formatted as httplib does.
bool endpoint(int fd, bool peer, std::string& host, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  if ((peer ? getpeername(fd, sa, &len) : getsockname(fd, sa, &len)) != 0) return false;
  if (addr.ss_family != AF_INET && addr.ss_family != AF_INET6) return false;
  char h[NI_MAXHOST];
  char p[NI_MAXSERV];
  if (getnameinfo(sa, len, h, sizeof h, p, sizeof p, NI_NUMERICHOST | NI_NUMERICSERV) != 0) return false;
  host = h;
  port = std::atoi(p);
  return true;
}

}  // namespace

void for_each_connected_socket(const std::function<bool(const SocketEndpoints&)>& visit) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    SocketEndpoints s{std::atoi(entry.path().filename().c_str()), {}, 0, {}, 0};
    if (!endpoint(s.fd, /*peer=*/true, s.peer_host, s.peer_port)) continue;
    if (!endpoint(s.fd, /*peer=*/false, s.local_host, s.local_port)) continue;
    if (!visit(s)) return;
  }
}

bool set_listen_backlog(int port, int backlog) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    const int fd = std::atoi(entry.path().filename().c_str());
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
    std::string host;
    int local_port = 0;
    if (endpoint(fd, /*peer=*/false, host, local_port) && local_port == port) return ::listen(fd, backlog) == 0;
  }
  return false;
}

bool socket_peer_is(int fd, const std::string& peer_host, int peer_port) {
  std::string host;
  int port = 0;
  return endpoint(fd, /*peer=*/true, host, port) && port == peer_port && host == peer_host;
}

}  // namespace dsgw::daemon
