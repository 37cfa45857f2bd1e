// dsgw's HTTP/1.1 server. A fixed pool of worker threads; a connection keeps
// one worker while it is open (keep-alive included), so a handler may block.
// Each request is read whole before its handler runs; each answer is written
// with one send (a streamed one as chunks, each one send); a kept-alive
// connection is polled once while idle, never before each read of a request
// that is arriving. It knows nothing of routes: one Handler
// gets every request it could read, one ErrorHandler answers those it could
// not.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>

#include "common/status.h"
#include "common/http/message.h"

namespace dsgw::http {

// Whether the client of a connection has closed or reset it (a poll, no read).
bool client_gone(int fd);

struct ServerSettings {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port
  int workers = 64;
  std::chrono::milliseconds read_timeout{30'000};   // for the rest of a request once it began
  std::chrono::milliseconds write_timeout{30'000};  // for each send
  std::chrono::milliseconds idle_timeout{5'000};    // between requests on one connection
  std::uint64_t max_body_bytes = 4 << 20;
};

class Server {
 public:
  using Handler = std::function<void(const Request&, Response&)>;
  // Fills the answer to a request that could not be read: `status` is 400,
  // 408, 413, 431, 501 or 505; the connection closes after it.
  using ErrorHandler = std::function<void(int status, const std::string& message, Response&)>;

  Server(ServerSettings settings, Handler handler, ErrorHandler on_error);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens (backlog SOMAXCONN); returns the port.
  Result<int> bind();
  // Accepts and serves until stop(); returns once every connection is closed.
  void serve();
  // Stops accepting; connections waiting for a next request close, requests
  // in progress (and accepted connections whose request has come) get their
  // answer, then their connections close. Safe from any thread, before or
  // during serve().
  void stop();

 private:
  struct Accepted {
    int fd;
    std::string remote_addr;
    int remote_port;
  };

  void work();
  void serve_connection(const Accepted& connection);
  // Waits for the next request on a kept-alive connection: false after the
  // idle timeout, when the client closed, or when stop() came first.
  bool wait_for_request(int fd) const;
  // Runs the handler and writes its answer; false when the connection ends.
  bool respond(int fd, const Request& req, Response& res, bool keep_alive);

  const ServerSettings settings_;
  const Handler handler_;
  const ErrorHandler on_error_;
  int listen_fd_ = -1;
  const int wake_fd_;  // an eventfd, readable once stop() was called
  std::atomic<bool> stopping_{false};

  std::mutex mutex_;  // guards the queue
  std::condition_variable queued_;
  std::deque<Accepted> queue_;  // accepted, waiting for a worker
};

}  // namespace dsgw::http
