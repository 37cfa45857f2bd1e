// The HTTP front door: an OpenAI-compatible API plus health endpoints, on
// cpp-httplib. One worker thread per open connection (httplib's model), sized
// from [server].workers.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "daemon/completion_handler.h"
#include "daemon/runtime.h"
#include "daemon/shutdown_clock.h"

namespace httplib {
class Server;
}

namespace dsgw::daemon {

class HttpServer {
 public:
  HttpServer(Runtime& runtime, const config::ServerConfig& settings);
  ~HttpServer();

  // Binds the listening socket; returns the port (useful with port 0).
  Result<int> bind();
  // Serves until stop(); returns once every connection thread has finished.
  void serve();
  // Stops accepting. In-flight requests may run for `grace`, then are cut off.
  void stop(std::chrono::milliseconds grace);

 private:
  void install_routes();

  Runtime& runtime_;
  const config::ServerConfig settings_;
  ShutdownClock shutdown_;
  CompletionHandler completions_;
  std::unique_ptr<httplib::Server> server_;
};

}  // namespace dsgw::daemon
