#include "daemon/client_probe.h"

#include "common/http/server.h"

namespace dsgw::daemon {

bool ClientProbe::alive() const { return fd_ < 0 || !http::client_gone(fd_); }

}  // namespace dsgw::daemon
