// Tells a handler that has not started its response whether the client is
// still connected: polls the connection's socket for the peer's hang-up.
#pragma once

#include "common/http/message.h"

namespace dsgw::daemon {

class ClientProbe {
 public:
  explicit ClientProbe(const http::Request& req) : fd_(req.fd) {}

  // False once the client has closed or reset the connection.
  bool alive() const;

 private:
  int fd_;
};

}  // namespace dsgw::daemon
