// Tells a handler that has not started its response whether the client is
// still connected. cpp-httplib 0.11 gives handlers no access to the socket
// (only a started response's DataSink can see it), so the probe finds the
// connection's descriptor by its address pair the first time it is asked,
// then polls it for the peer's hang-up.
#pragma once

#include <string>

namespace httplib {
struct Request;
}

namespace dsgw::daemon {

class ClientProbe {
 public:
  explicit ClientProbe(const httplib::Request& req);

  // False once the client has closed or reset the connection. If the socket
  // cannot be found, assumes the client is there.
  bool alive();

 private:
  int find_socket() const;

  std::string local_addr_;
  int local_port_;
  std::string remote_addr_;
  int remote_port_;
  int fd_ = -1;
  bool searched_ = false;
};

}  // namespace dsgw::daemon
