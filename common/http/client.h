// dsgw's HTTP/1.1 client for upstreams: kept-alive connections to one
// origin, plain or TLS (OpenSSL; the server's certificate verified against
// the system's CAs plus an optional CA file, and its name checked). Each
// request goes out with one send; the answer is handed over as it arrives;
// another thread can end an exchange at any moment through its Abort.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/message.h"

namespace dsgw::http {

struct Origin {
  bool tls = false;
  std::string host;  // a name or an IP literal, without brackets
  int port = 0;
};

struct ClientSettings {
  std::chrono::milliseconds connect_timeout{5'000};  // TCP connect, and the TLS handshake
  std::chrono::milliseconds read_timeout{600'000};   // each read; a backstop
  std::chrono::milliseconds write_timeout{30'000};   // each send
  std::string ca_file;                               // trusted besides the system store
  int max_idle_connections = 16;
};

struct ResponseHead {
  int status = 0;
  Headers headers;
};

enum class TransportError {
  kNone,
  kConnect,       // no connection (refused, unreachable, timed out, name unknown)
  kTlsVerify,     // the certificate or its name did not verify
  kTlsHandshake,  // TLS failed otherwise
  kWrite,         // the request could not be sent
  kRead,          // the answer broke off, was malformed, or timed out
  kStopped,       // a handler returned false
  kAborted,       // Abort::trip()
};

struct SendResult {
  TransportError error = TransportError::kNone;
  std::string detail;  // for logs and error messages
  explicit operator bool() const { return error == TransportError::kNone; }
};

// Ends one exchange from another thread (a deadline, a consumer that left).
// Tripping before the exchange starts ends it as soon as it does.
class Abort {
 public:
  void trip();
  bool tripped() const;

 private:
  friend class Client;
  // While attached, trip() shuts the socket down (never after detach, so
  // never a descriptor that was closed and reused).
  bool attach(int fd);
  void detach();

  mutable std::mutex mutex_;
  int fd_ = -1;
  bool tripped_ = false;
};

class Client {
 public:
  using OnHead = std::function<bool(const ResponseHead&)>;
  using OnBody = std::function<bool(std::string_view)>;

  Client(Origin origin, ClientSettings settings);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends `method path` with `headers` (Host and Content-Length are added)
  // and `body`; calls on_head once with the final status and fields, then
  // on_body with each piece of the (de-chunked) body. Returns when the answer
  // is complete or the exchange failed; a connection is kept for reuse only
  // after a complete answer that allows it.
  SendResult send(std::string_view method, std::string_view path, const Headers& headers, std::string_view body,
                  const OnHead& on_head, const OnBody& on_body, Abort& abort);

  class Connection;

 private:
  std::unique_ptr<Connection> take_idle();
  void keep_idle(std::unique_ptr<Connection> connection);
  SendResult open(std::unique_ptr<Connection>& out);

  const Origin origin_;
  const ClientSettings settings_;
  struct TlsContext;
  std::unique_ptr<TlsContext> tls_;
  std::mutex idle_mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace dsgw::http
