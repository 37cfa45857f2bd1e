#include "common/http/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <thread>
#include <variant>
#include <vector>

#include "common/http/parser.h"
#include "common/log.h"
#include "common/http/socket_io.h"

namespace dsgw::http {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kAcceptLook{200};  // how often the accept loop looks at stop()

int poll_timeout(milliseconds ms) { return static_cast<int>(std::min<milliseconds::rep>(ms.count(), 1 << 30)); }

// After an error answer, closes without losing it: closing a socket with
// unread input (the rest of a body over the limit) sends a reset, which can
// destroy the answer before the client reads it. So stop writing, discard
// what still comes for a moment, then close (what nginx calls a lingering close).
void linger_close(int fd) {
  constexpr milliseconds kLinger{10'000};
  constexpr std::size_t kMaxDiscard = 64 << 20;
  ::shutdown(fd, SHUT_WR);
  set_socket_timeout(fd, SO_RCVTIMEO, milliseconds(1'000));
  const auto until = std::chrono::steady_clock::now() + kLinger;
  char scratch[16 << 10];
  std::size_t discarded = 0;
  while (discarded < kMaxDiscard && std::chrono::steady_clock::now() < until) {
    const ssize_t n = ::recv(fd, scratch, sizeof scratch, 0);
    if (n <= 0 && !(n < 0 && errno == EINTR)) break;
    discarded += static_cast<std::size_t>(std::max<ssize_t>(n, 0));
  }
  ::close(fd);
}

void append_number(std::string& out, std::uint64_t n, int base = 10) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, n, base).ptr;
  out.append(digits, end);
}

// A header value goes out on one line, whatever a handler put in it.
void append_field_value(std::string& out, std::string_view value) {
  for (char c : value) out.push_back(c == '\r' || c == '\n' ? ' ' : c);
}

// How the answer's body goes out.
struct BodyFraming {
  bool keep_alive = true;
  bool chunked = true;     // a streamed body to an HTTP/1.1 client; 1.0 gets it raw, then the close
  bool head_only = false;  // a HEAD request: the head alone (RFC 9112 6.3)
};

std::string response_head(const Response& res, const BodyFraming& framing) {
  std::string out;
  out.reserve(256 + res.body.size());
  out += "HTTP/1.1 ";
  append_number(out, static_cast<std::uint64_t>(res.status));
  out += ' ';
  out += reason_phrase(res.status);
  out += "\r\n";
  for (const auto& [name, value] : res.headers.fields()) {
    out += name;
    out += ": ";
    append_field_value(out, value);
    out += "\r\n";
  }
  if (!res.producer) {
    out += "Content-Length: ";
    append_number(out, res.body.size());
    out += "\r\n";
  } else if (framing.chunked) {
    out += "Transfer-Encoding: chunked\r\n";
  }
  if (!framing.keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  return out;
}

// A streamed body, each piece written with one send: as a chunk, or as it
// is (HTTP/1.0, where the close ends the body).
class StreamSink final : public BodySink {
 public:
  StreamSink(int fd, bool chunked) : fd_(fd), chunked_(chunked) {}

  bool write(std::string_view data) override {
    if (data.empty()) return true;
    if (!chunked_) return send_all(fd_, data);
    frame_.clear();
    append_number(frame_, data.size(), 16);
    frame_ += "\r\n";
    frame_ += data;
    frame_ += "\r\n";
    return send_all(fd_, frame_);
  }
  bool client_alive() override { return !client_gone(fd_); }
  bool finish() { return !chunked_ || send_all(fd_, "0\r\n\r\n"); }

 private:
  int fd_;
  bool chunked_;
  std::string frame_;
};

// The whole answer with one send, or the head and then the producer's pieces.
bool write_response(int fd, Response& res, const BodyFraming& framing) {
  std::string head = response_head(res, framing);
  if (framing.head_only) return send_all(fd, head);
  if (!res.producer) {
    head += res.body;
    return send_all(fd, head);
  }
  StreamSink sink(fd, framing.chunked);
  return send_all(fd, head) && res.producer(sink) && sink.finish();
}

// What reading one request gave.
struct Closed {};  // the client closed or went quiet before a request began
using ReadOutcome = std::variant<Request, ParseError, Closed>;

class RequestReader {
 public:
  RequestReader(int fd, const ServerSettings& settings) : fd_(fd), settings_(settings) {}

  // `buffer` holds bytes already read past the previous request. The whole
  // request must arrive within read_timeout (each read waits at most that
  // long too), so a client trickling bytes cannot hold a worker for ever.
  ReadOutcome read(std::string& buffer, bool& keep_alive) {
    deadline_ = std::chrono::steady_clock::now() + settings_.read_timeout;
    std::size_t head_end;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (buffer.size() > kMaxHeadBytes) return ParseError{431, "the request head exceeds 64 KiB"};
      if (late()) return ParseError{408, "the request head did not arrive in time"};
      const ssize_t n = recv_some(fd_, buffer);
      if (n == 0) return Closed{};  // also when cut off mid-head: nobody to answer
      if (n < 0) return buffer.empty() ? ReadOutcome(Closed{}) : ParseError{408, "the request head did not arrive in time"};
    }
    auto parsed = parse_head(std::string_view(buffer).substr(0, head_end + 4), settings_.max_body_bytes);
    if (auto* error = std::get_if<ParseError>(&parsed)) return *error;
    RequestHead& head = std::get<RequestHead>(parsed);
    buffer.erase(0, head_end + 4);
    keep_alive = head.keep_alive;
    if (head.expects_continue && head.framing != RequestHead::Framing::kNone && buffer.empty() &&
        !send_all(fd_, "HTTP/1.1 100 Continue\r\n\r\n")) {
      return Closed{};
    }
    Request req;
    if (head.framing == RequestHead::Framing::kLength) {
      if (auto e = read_length(buffer, head.content_length, req.body)) return *e;
    } else if (head.framing == RequestHead::Framing::kChunked) {
      if (auto e = read_chunked(buffer, req.body)) return *e;
    }
    req.method = std::move(head.method);
    req.path = std::move(head.path);
    req.query = std::move(head.query);
    req.http_1_0 = head.http_1_0;
    req.headers = std::move(head.headers);
    req.fd = fd_;
    return req;
  }

 private:
  std::optional<ParseError> read_length(std::string& buffer, std::uint64_t length, std::string& body) {
    const auto size = static_cast<std::size_t>(length);
    while (buffer.size() < size) {
      if (late() || recv_some(fd_, buffer) <= 0) return ParseError{408, "the request body did not arrive in full"};
    }
    if (buffer.size() == size) {
      body.swap(buffer);
      buffer.clear();
    } else {
      body.assign(buffer, 0, size);
      buffer.erase(0, size);
    }
    return std::nullopt;
  }

  std::optional<ParseError> read_chunked(std::string& buffer, std::string& body) {
    ChunkedDecoder decoder(settings_.max_body_bytes);
    for (;;) {
      buffer.erase(0, decoder.feed(buffer, body));
      if (decoder.error()) return decoder.error();
      if (decoder.done()) return std::nullopt;
      if (late() || recv_some(fd_, buffer) <= 0) return ParseError{408, "the request body did not arrive in full"};
    }
  }

  bool late() const { return std::chrono::steady_clock::now() > deadline_; }

  int fd_;
  const ServerSettings& settings_;
  std::chrono::steady_clock::time_point deadline_;
};

Result<int> listen_on(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return make_error(ErrorCode::kUnavailable, "cannot listen on " + host + ":" + service + ": " + gai_strerror(rc));
  }
  std::string why = "no address";
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      why = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) return make_error(ErrorCode::kUnavailable, "cannot listen on " + host + ":" + service + ": " + why);
  return fd;
}

int local_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

std::pair<std::string, int> peer_of(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET6) {
    const auto& a6 = reinterpret_cast<const sockaddr_in6&>(addr);
    inet_ntop(AF_INET6, &a6.sin6_addr, text, sizeof text);
    return {text, ntohs(a6.sin6_port)};
  }
  const auto& a4 = reinterpret_cast<const sockaddr_in&>(addr);
  inet_ntop(AF_INET, &a4.sin_addr, text, sizeof text);
  return {text, ntohs(a4.sin_port)};
}

}  // namespace

bool client_gone(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

Server::Server(ServerSettings settings, Handler handler, ErrorHandler on_error)
    : settings_(std::move(settings)), handler_(std::move(handler)), on_error_(std::move(on_error)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC)) {}

Server::~Server() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Result<int> Server::bind() {
  auto fd = listen_on(settings_.host, settings_.port);
  if (!fd) return fd.error();
  listen_fd_ = fd.value();
  return local_port(listen_fd_);
}

void Server::serve() {
  std::vector<std::jthread> workers;
  workers.reserve(static_cast<std::size_t>(settings_.workers));
  for (int i = 0; i < settings_.workers; ++i) workers.emplace_back([this] { work(); });
  while (!stopping_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, poll_timeout(kAcceptLook)) <= 0) continue;
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      // Out of descriptors: the connection stays in the backlog, so wait a
      // little instead of spinning on it. Otherwise the client gave up.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      continue;
    }
    auto [host, port] = peer_of(addr);
    std::lock_guard lock(mutex_);
    if (stopping_) {  // the workers may be gone already: nobody would close it
      ::close(fd);
      break;
    }
    queue_.push_back(Accepted{fd, std::move(host), port});
    queued_.notify_one();
  }
  ::close(listen_fd_);
  listen_fd_ = -1;
  {
    std::lock_guard lock(mutex_);
    queued_.notify_all();
  }
  workers.clear();  // joins: each ends once the queue is empty and its connection closed
}

void Server::stop() {
  std::lock_guard lock(mutex_);
  stopping_ = true;
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);  // stays readable: wakes every idle wait
  queued_.notify_all();
}

void Server::work() {
  for (;;) {
    Accepted connection;
    {
      std::unique_lock lock(mutex_);
      queued_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;
      connection = std::move(queue_.front());
      queue_.pop_front();
    }
    // Once stopping, a queued connection still gets one answer (a 503 while
    // draining) if its request is there, then closes.
    serve_connection(connection);
  }
}

bool Server::wait_for_request(int fd) const {
  pollfd p[2] = {{fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  if (::poll(p, 2, poll_timeout(settings_.idle_timeout)) <= 0) return false;
  // A request that came with stop() still gets its answer (a 503 while draining).
  return (p[0].revents & POLLIN) != 0;
}

void Server::serve_connection(const Accepted& connection) {
  const int fd = connection.fd;
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  set_socket_timeout(fd, SO_RCVTIMEO, settings_.read_timeout);
  set_socket_timeout(fd, SO_SNDTIMEO, settings_.write_timeout);
  RequestReader reader(fd, settings_);
  std::string buffer;
  for (;;) {
    if (buffer.empty() && !wait_for_request(fd)) break;
    bool keep_alive = false;
    ReadOutcome outcome = reader.read(buffer, keep_alive);
    if (std::holds_alternative<Closed>(outcome)) break;
    Response res;
    if (auto* error = std::get_if<ParseError>(&outcome)) {
      on_error_(error->status, error->message, res);
      res.status = error->status;
      send_all(fd, response_head(res, BodyFraming{.keep_alive = false}) + res.body);
      return linger_close(fd);
    }
    Request& req = std::get<Request>(outcome);
    req.remote_addr = connection.remote_addr;
    req.remote_port = connection.remote_port;
    if (!respond(fd, req, res, keep_alive)) break;
  }
  ::close(fd);
}

bool Server::respond(int fd, const Request& req, Response& res, bool keep_alive) {
  // Nothing a handler, a producer or on_sent throws may end the process: the
  // connection ends instead (the handler's own errors are answered by it).
  try {
    handler_(req, res);
    if (res.drop_connection) return false;
    BodyFraming framing;
    framing.chunked = !req.http_1_0;
    framing.head_only = req.method == "HEAD";
    framing.keep_alive = keep_alive && !stopping_.load() && (framing.chunked || !res.producer || framing.head_only);
    const bool sent = write_response(fd, res, framing);
    if (res.on_sent) res.on_sent();
    return sent && framing.keep_alive;
  } catch (...) {
    log::error("http.handler_failed").kv("path", req.path).kv("error", "an exception escaped the handler");
    return false;
  }
}

}  // namespace dsgw::http
