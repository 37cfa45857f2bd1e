// The HTTP front door: an OpenAI-compatible API plus health and operator
// endpoints, routed by exact method and path, on dsgw's own HTTP/1.1 server
// (common/http/server.h). One worker thread per open connection, sized from
// [server].workers.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "daemon/completion_handler.h"
#include "common/http/server.h"
#include "daemon/runtime.h"
#include "daemon/shutdown.h"

namespace dsgw::daemon {

class HttpServer {
 public:
  HttpServer(Runtime& runtime, const config::ServerConfig& settings);

  // Binds the listening socket; returns the port (useful with port 0).
  Result<int> bind();
  // Serves until stop(); returns once every connection has closed.
  void serve();
  // Stops accepting and lets in-flight requests run for up to `grace`, then
  // cancels what is left. Returns when serve() has returned.
  void stop(std::chrono::milliseconds grace);

 private:
  using Handler = std::function<void(const http::Request&, http::Response&)>;
  struct Route {
    std::string method;
    std::string path;
    Handler handle;
  };

  void install_routes();
  void dispatch(const http::Request& req, http::Response& res) const;

  Runtime& runtime_;
  Shutdown shutdown_;
  CompletionHandler completions_;
  std::vector<Route> routes_;
  http::Server server_;
  std::mutex served_mutex_;
  std::condition_variable served_cv_;
  bool served_ = false;
};

}  // namespace dsgw::daemon
