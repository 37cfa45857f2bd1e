// The process's own TCP sockets, found through /proc/self/fd. cpp-httplib
// 0.11 hides its sockets; this is how dsgw still notices a client that left
// before a response started (ClientProbe), closes idle keep-alive
// connections when it shuts down, and raises the listening socket's backlog.
#pragma once

#include <functional>
#include <string>

namespace dsgw::daemon {

struct SocketEndpoints {
  int fd;
  std::string local_host;
  int local_port;
  std::string peer_host;
  int peer_port;
};

// Calls `visit` for each connected TCP socket; stop early by returning false.
void for_each_connected_socket(const std::function<bool(const SocketEndpoints&)>& visit);

// Sets the accept backlog of this process's listening TCP socket on `port`
// (cpp-httplib 0.11 listens with a backlog of 5: a burst of connections
// under load overflows it and clients wait out SYN retransmits, seconds
// each). Returns whether such a socket was found.
bool set_listen_backlog(int port, int backlog);

// Whether `fd` is still connected to peer_host:peer_port (fds get reused).
bool socket_peer_is(int fd, const std::string& peer_host, int peer_port);

}  // namespace dsgw::daemon
