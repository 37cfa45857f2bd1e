// The operator's HTTP endpoints around routing:
//   POST /v1/route/explain  a chat request in, the decision out, nothing run
//   POST /admin/reload      re-read config and policy (loopback clients only)
#pragma once

#include "daemon/runtime.h"
#include "common/http/message.h"


namespace dsgw::daemon {

void handle_route_explain(Runtime& runtime, const http::Request& req, http::Response& res);
void handle_admin_reload(Runtime& runtime, const http::Request& req, http::Response& res);

}  // namespace dsgw::daemon
