// POST /v1/chat/completions and /v1/completions: wire -> Request -> pipeline
// -> events -> wire, streamed (SSE) or whole.
#pragma once

#include <string>

#include "common/status.h"
#include "daemon/disconnect_watch.h"
#include "daemon/runtime.h"
#include "daemon/shutdown.h"
#include "router/request.h"
#include "common/http/message.h"


namespace dsgw::daemon {

// The native Request of an OpenAI-style HTTP request: body, bearer token,
// X-Dsgw-* hint headers. Errors: kInvalidRequest naming the problem.
Result<router::Request> read_request(const http::Request& req, router::Endpoint endpoint,
                                     const std::string& request_id);

class CompletionHandler {
 public:
  CompletionHandler(Runtime& runtime, const Shutdown& shutdown) : runtime_(runtime), shutdown_(shutdown) {}

  void handle(const http::Request& req, http::Response& res, router::Endpoint endpoint) const;

 private:
  Runtime& runtime_;
  const Shutdown& shutdown_;
  mutable DisconnectWatch disconnects_;
};

}  // namespace dsgw::daemon
