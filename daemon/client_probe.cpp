#include "daemon/client_probe.h"

#include <poll.h>

#include <httplib.h>

#include "daemon/open_sockets.h"

namespace dsgw::daemon {

ClientProbe::ClientProbe(const httplib::Request& req)
    : local_addr_(req.local_addr), local_port_(req.local_port), remote_addr_(req.remote_addr),
      remote_port_(req.remote_port) {}

int ClientProbe::find_socket() const {
  int found = -1;
  for_each_connected_socket([&](const SocketEndpoints& s) {
    if (s.peer_port == remote_port_ && s.local_port == local_port_ && s.peer_host == remote_addr_ &&
        s.local_host == local_addr_) {
      found = s.fd;
    }
    return found < 0;
  });
  return found;
}

bool ClientProbe::alive() {
  if (!searched_) {
    fd_ = find_socket();
    searched_ = true;
  }
  if (fd_ < 0) return true;
  // The descriptor may have been reused if the connection is gone.
  if (!socket_peer_is(fd_, remote_addr_, remote_port_)) return false;
  pollfd p{fd_, POLLRDHUP, 0};
  return poll(&p, 1, 0) == 0 || (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0;
}

}  // namespace dsgw::daemon
