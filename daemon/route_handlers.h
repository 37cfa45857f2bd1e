// The operator's HTTP endpoints around routing:
//   POST /v1/route/explain  a chat request in, the decision out, nothing run
//   POST /admin/reload      re-read config and policy (loopback clients only)
#pragma once

#include "daemon/runtime.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace dsgw::daemon {

void handle_route_explain(Runtime& runtime, const httplib::Request& req, httplib::Response& res);
void handle_admin_reload(Runtime& runtime, const httplib::Request& req, httplib::Response& res);

}  // namespace dsgw::daemon
