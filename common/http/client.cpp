#include "common/http/client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/http/parser.h"
#include "common/http/socket_io.h"

namespace dsgw::http {
namespace {

using std::chrono::milliseconds;

constexpr std::chrono::seconds kMaxIdleAge{30};  // a pooled connection unused longer is not reused

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  if (code == 0) return "no details";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return text;
}

bool is_ip_literal(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

// A TCP connection within `timeout`, or -1 with `why` set.
int connect_tcp(const Origin& origin, milliseconds timeout, std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(origin.port);
  if (int rc = getaddrinfo(origin.host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    why = gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  why = "no address";
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      do {
        rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
      } while (rc < 0 && errno == EINTR);
      int err = rc == 0 ? ETIMEDOUT : 0;
      socklen_t len = sizeof err;
      if (rc > 0) getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) errno = err;
      rc = err == 0 ? 0 : -1;
    }
    if (rc != 0) {
      why = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd >= 0) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  }
  return fd;
}

}  // namespace

struct Client::TlsContext {
  SSL_CTX* ctx = nullptr;
  std::string error;  // why ctx could not be made
  ~TlsContext() {
    if (ctx) SSL_CTX_free(ctx);
  }
};

// One socket, plain or TLS, and the bytes read past the last answer.
class Client::Connection {
 public:
  Connection(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  ~Connection() {
    if (ssl_) SSL_free(ssl_);
    ::close(fd_);
  }

  int fd() const { return fd_; }
  std::string& buffer() { return buffer_; }

  bool write_all(std::string_view data) {
    if (!ssl_) return send_all(fd_, data);
    while (!data.empty()) {
      const int n = SSL_write(ssl_, data.data(), static_cast<int>(std::min<std::size_t>(data.size(), 1 << 30)));
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Appends what the connection has (waiting for it). > 0: read; 0: closed; < 0: error.
  ssize_t read_more() {
    if (!ssl_) return recv_some(fd_, buffer_);
    char chunk[kReadChunk];
    const int n = SSL_read(ssl_, chunk, static_cast<int>(sizeof chunk));
    if (n <= 0) return SSL_get_error(ssl_, n) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return n;
  }

  void mark_idle() { idle_since_ = std::chrono::steady_clock::now(); }

  // An idle connection the server closed (or wrote to) cannot take a request;
  // nor one idle so long that a NAT or load balancer may have dropped it
  // silently (a request sent into it would wait for a deadline).
  bool usable_again() const {
    if (std::chrono::steady_clock::now() - idle_since_ > kMaxIdleAge) return false;
    pollfd p{fd_, POLLIN, 0};
    return buffer_.empty() && ::poll(&p, 1, 0) == 0;
  }

 private:
  int fd_;
  SSL* ssl_;
  std::string buffer_;
  std::chrono::steady_clock::time_point idle_since_;
};

void Abort::trip() {
  std::lock_guard lock(mutex_);
  if (tripped_) return;
  tripped_ = true;
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

bool Abort::tripped() const {
  std::lock_guard lock(mutex_);
  return tripped_;
}

bool Abort::attach(int fd) {
  std::lock_guard lock(mutex_);
  fd_ = fd;
  return !tripped_;
}

void Abort::detach() {
  std::lock_guard lock(mutex_);
  fd_ = -1;
}

Client::Client(Origin origin, ClientSettings settings) : origin_(std::move(origin)), settings_(std::move(settings)) {
  if (!origin_.tls) return;
  tls_ = std::make_unique<TlsContext>();
  tls_->ctx = SSL_CTX_new(TLS_client_method());
  if (!tls_->ctx) {
    tls_->error = "cannot create a TLS context: " + openssl_error();
    return;
  }
  SSL_CTX_set_verify(tls_->ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_min_proto_version(tls_->ctx, TLS1_2_VERSION);
  // Many servers end a body that runs to the close without close_notify.
  SSL_CTX_set_options(tls_->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_default_verify_paths(tls_->ctx);
  if (!settings_.ca_file.empty() &&
      SSL_CTX_load_verify_locations(tls_->ctx, settings_.ca_file.c_str(), nullptr) != 1) {
    tls_->error = "cannot load the CA file " + settings_.ca_file + ": " + openssl_error();
  }
}

Client::~Client() = default;

std::unique_ptr<Client::Connection> Client::take_idle() {
  std::lock_guard lock(idle_mutex_);
  while (!idle_.empty()) {
    std::unique_ptr<Connection> c = std::move(idle_.back());
    idle_.pop_back();
    if (c->usable_again()) return c;
  }
  return nullptr;
}

void Client::keep_idle(std::unique_ptr<Connection> connection) {
  std::lock_guard lock(idle_mutex_);
  if (static_cast<int>(idle_.size()) >= settings_.max_idle_connections) return;
  connection->mark_idle();
  idle_.push_back(std::move(connection));
}

SendResult Client::open(std::unique_ptr<Connection>& out) {
  if (tls_ && !tls_->error.empty()) return {TransportError::kTlsHandshake, tls_->error};
  std::string why;
  const int fd = connect_tcp(origin_, settings_.connect_timeout, why);
  if (fd < 0) return {TransportError::kConnect, why};
  if (!tls_) {
    out = std::make_unique<Connection>(fd, nullptr);
    return {};
  }
  SSL* ssl = SSL_new(tls_->ctx);
  auto connection = std::make_unique<Connection>(fd, ssl);  // owns fd and ssl from here
  if (!ssl) return {TransportError::kTlsHandshake, openssl_error()};
  SSL_set_fd(ssl, fd);
  if (is_ip_literal(origin_.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), origin_.host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, origin_.host.c_str());
    SSL_set1_host(ssl, origin_.host.c_str());
  }
  set_socket_timeout(fd, SO_RCVTIMEO, settings_.connect_timeout);
  set_socket_timeout(fd, SO_SNDTIMEO, settings_.connect_timeout);
  if (SSL_connect(ssl) != 1) {
    const long verified = SSL_get_verify_result(ssl);
    if (verified != X509_V_OK) {
      ERR_clear_error();
      return {TransportError::kTlsVerify, X509_verify_cert_error_string(verified)};
    }
    return {TransportError::kTlsHandshake, openssl_error()};
  }
  out = std::move(connection);
  return {};
}

namespace {

// The status line and fields of an answer, from `head` (ending in the blank line).
bool parse_response_head(std::string_view head, ResponseHead& out, bool& keep_alive) {
  const auto eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  if (!line.starts_with("HTTP/1.") || line.size() < 12 || line[8] != ' ' || (line.size() > 12 && line[12] != ' ')) {
    return false;
  }
  int status = 0;
  const auto [end, ec] = std::from_chars(line.data() + 9, line.data() + 12, status);
  if (ec != std::errc() || end != line.data() + 12 || status < 100) return false;
  out.status = status;
  out.headers = Headers();
  if (parse_fields(head.substr(eol + 2), out.headers)) return false;
  const auto connection = out.headers.get("Connection");
  keep_alive = line[7] == '1' ? !(connection && lists_token(*connection, "close"))
                              : connection && lists_token(*connection, "keep-alive");
  return true;
}

std::string request_text(const Origin& origin, std::string_view method, std::string_view path,
                         const Headers& headers, std::string_view body) {
  std::string out;
  out.reserve(256 + body.size());
  out.append(method).append(" ").append(path).append(" HTTP/1.1\r\nHost: ");
  const bool ipv6 = origin.host.find(':') != std::string::npos;  // a literal goes in brackets
  out.append(ipv6 ? "[" : "").append(origin.host).append(ipv6 ? "]" : "");
  if (origin.port != (origin.tls ? 443 : 80)) out.append(":").append(std::to_string(origin.port));
  out += "\r\n";
  for (const auto& [name, value] : headers.fields()) out.append(name).append(": ").append(value).append("\r\n");
  out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n").append(body);
  return out;
}

enum class Framing { kNone, kChunked, kLength, kUntilClose };

// How the answer's body is delimited (RFC 9112 6.3); nullopt for a malformed
// Content-Length. `length` is set for kLength.
std::optional<Framing> body_framing(std::string_view method, const ResponseHead& head, std::uint64_t& length) {
  if (method == "HEAD" || head.status == 204 || head.status == 304) return Framing::kNone;
  if (const auto encoding = head.headers.get("Transfer-Encoding"); encoding && lists_token(*encoding, "chunked")) {
    return Framing::kChunked;
  }
  const auto field = head.headers.get("Content-Length");
  if (!field) return Framing::kUntilClose;
  const auto [p, ec] = std::from_chars(field->data(), field->data() + field->size(), length);
  if (ec != std::errc() || p != field->data() + field->size()) return std::nullopt;
  return Framing::kLength;
}

}  // namespace

SendResult Client::send(std::string_view method, std::string_view path, const Headers& headers,
                        std::string_view body, const OnHead& on_head, const OnBody& on_body, Abort& abort) {
  if (abort.tripped()) return {TransportError::kAborted, "aborted"};
  std::unique_ptr<Connection> c = take_idle();
  if (!c) {
    if (SendResult opened = open(c); !opened) return opened;
    set_socket_timeout(c->fd(), SO_RCVTIMEO, settings_.read_timeout);
    set_socket_timeout(c->fd(), SO_SNDTIMEO, settings_.write_timeout);
  }
  if (!abort.attach(c->fd())) {
    abort.detach();
    return {TransportError::kAborted, "aborted"};
  }
  // From here on, every way out detaches first; a tripped abort wins.
  auto finish = [&](SendResult result) {
    abort.detach();
    if (abort.tripped()) return SendResult{TransportError::kAborted, "aborted"};
    return result;
  };

  if (!c->write_all(request_text(origin_, method, path, headers, body))) {
    return finish({TransportError::kWrite, "the upstream closed the connection"});
  }

  // The head; interim 1xx answers are skipped.
  std::string& in = c->buffer();
  ResponseHead head;
  bool keep_alive = false;
  for (;;) {
    std::size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
      if (in.size() > kMaxHeadBytes) return finish({TransportError::kRead, "the answer's head exceeds 64 KiB"});
      const ssize_t n = c->read_more();
      if (n == 0) return finish({TransportError::kRead, "the upstream closed the connection without answering"});
      if (n < 0) return finish({TransportError::kRead, "no answer from the upstream (read failed or timed out)"});
    }
    if (!parse_response_head(std::string_view(in).substr(0, end + 4), head, keep_alive)) {
      return finish({TransportError::kRead, "the upstream's answer is not HTTP/1.x"});
    }
    in.erase(0, end + 4);
    if (head.status >= 200) break;
  }
  if (!on_head(head)) return finish({TransportError::kStopped, "stopped"});

  // The body: chunked, of a given length, or up to the end of the connection.
  std::uint64_t remaining = 0;
  const auto framing = body_framing(method, head, remaining);
  if (!framing) return finish({TransportError::kRead, "the upstream sent a malformed Content-Length"});
  if (framing == Framing::kUntilClose) keep_alive = false;

  ChunkedDecoder chunks(UINT64_MAX);
  std::string piece;
  for (;;) {
    bool complete = false;
    if (framing == Framing::kNone) {
      complete = true;
    } else if (framing == Framing::kChunked) {
      piece.clear();
      in.erase(0, chunks.feed(in, piece));
      if (chunks.error()) return finish({TransportError::kRead, "the upstream sent a malformed chunked body"});
      if (!piece.empty() && !on_body(piece)) return finish({TransportError::kStopped, "stopped"});
      complete = chunks.done();
    } else if (!in.empty()) {
      const std::size_t n = framing == Framing::kLength ? static_cast<std::size_t>(std::min<std::uint64_t>(remaining, in.size()))
                                                        : in.size();
      const bool go_on = on_body(std::string_view(in).substr(0, n));
      in.erase(0, n);
      remaining -= framing == Framing::kLength ? n : 0;
      if (!go_on) return finish({TransportError::kStopped, "stopped"});
      complete = framing == Framing::kLength && remaining == 0;
    } else {
      complete = framing == Framing::kLength && remaining == 0;
    }
    if (complete) break;
    const ssize_t n = c->read_more();
    if (n == 0 && framing == Framing::kUntilClose) break;
    if (n <= 0) return finish({TransportError::kRead, "the upstream's answer broke off"});
  }
  SendResult result = finish({});
  if (result && keep_alive) keep_idle(std::move(c));
  return result;
}

}  // namespace dsgw::http
