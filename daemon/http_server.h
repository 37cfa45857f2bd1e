// The HTTP front door: an OpenAI-compatible API plus health endpoints, on
// cpp-httplib. One worker thread per open connection (httplib's model), sized
// from [server].workers.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <string>

#include "common/status.h"
#include "daemon/completion_handler.h"
#include "daemon/runtime.h"
#include "daemon/shutdown.h"

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
  // Stops accepting and lets in-flight requests run for up to `grace`, then
  // cancels what is left. Returns when serve() has returned.
  void stop(std::chrono::milliseconds grace);

 private:
  void install_routes();
  // Shuts down keep-alive connections that have no request in progress.
  void close_idle_connections();

  Runtime& runtime_;
  const config::ServerConfig settings_;
  Shutdown shutdown_;
  std::mutex served_mutex_;
  std::condition_variable served_cv_;
  bool served_ = false;
  int port_ = 0;
  // Clients (address, port) with a request in progress, from routing until
  // the response is written; other connections are idle keep-alives.
  std::mutex busy_mutex_;
  std::multiset<std::pair<std::string, int>> busy_;
  CompletionHandler completions_;
  std::unique_ptr<httplib::Server> server_;
};

}  // namespace dsgw::daemon
