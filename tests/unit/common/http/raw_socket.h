// Raw TCP on loopback for the HTTP tests: a scripted peer that accepts
// connections on a port chosen at run time, runs a script on each (on its own
// thread) and records every byte it received, and a raw client to a port. Every wait is bounded, so a
// broken peer on the other side fails a check instead of hanging the suite.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "common/http/socket_io.h"

namespace dsgw::test {

// The bound on every wait for something that should happen.
inline constexpr std::chrono::milliseconds kRawWait{3'000};

// A flag one thread raises and another waits for (at most `wait`).
class Signal {
 public:
  void raise() {
    std::lock_guard lock(mutex_);
    raised_ = true;
    changed_.notify_all();
  }
  bool wait(std::chrono::milliseconds wait = kRawWait) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, wait, [&] { return raised_; });
  }
  bool raised() {
    std::lock_guard lock(mutex_);
    return raised_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool raised_ = false;
};

// One connected socket speaking raw bytes. Owns the descriptor; close() only
// shuts it down (the peer sees the end), so that another thread may still
// shut it down safely until the object is destroyed.
class RawConnection {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RawConnection(int fd) : fd_(fd) {
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    dsgw::http::set_socket_timeout(fd_, SO_SNDTIMEO, kRawWait);
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Sends all of `data`; false once the peer stops taking it.
  bool send(std::string_view data) { return dsgw::http::send_all(fd_, data); }

  // Everything up to and including `marker`, or "" when it did not arrive within `wait`
  // (what did arrive stays buffered).
  std::string read_until(std::string_view marker, std::chrono::milliseconds wait = kRawWait) {
    const std::size_t at = find(marker, 0, Clock::now() + wait);
    return at == std::string::npos ? "" : take(at + marker.size());
  }

  // One request: its head and a Content-Length body; "" when none arrived within `wait`.
  std::string read_request(std::chrono::milliseconds wait = kRawWait) {
    const auto until = Clock::now() + wait;
    const std::size_t head_end = find("\r\n\r\n", 0, until);
    if (head_end == std::string::npos) return "";
    return take_message(head_end + 4 + content_length(head_end), until);
  }

  // One response: its head, then a Content-Length body or chunks up to the last one;
  // "" when it did not all arrive within `wait` (what did arrive stays buffered).
  std::string read_response(std::chrono::milliseconds wait = kRawWait) {
    const auto until = Clock::now() + wait;
    const std::size_t head_end = find("\r\n\r\n", 0, until);
    if (head_end == std::string::npos) return "";
    if (buffer_.substr(0, head_end + 4).find("\r\nTransfer-Encoding: chunked\r\n") != std::string::npos) {
      // From the head's last line end, so that an empty body's "0\r\n\r\n" matches too.
      constexpr std::string_view kLast = "\r\n0\r\n\r\n";
      const std::size_t last = find(kLast, head_end + 2, until);
      return last == std::string::npos ? "" : take(last + kLast.size());
    }
    return take_message(head_end + 4 + content_length(head_end), until);
  }

  // All that arrives until the peer closes (then closed()) or `wait` passes.
  std::string read_to_close(std::chrono::milliseconds wait = kRawWait) {
    const auto until = Clock::now() + wait;
    while (read_more(until)) {
    }
    return take(buffer_.size());
  }

  // The peer closed its end (or reset the connection).
  bool closed() const { return closed_; }
  // Every byte received so far, taken or not.
  std::string received() const {
    std::lock_guard lock(received_mutex_);
    return received_;
  }

  void close() { ::shutdown(fd_, SHUT_RDWR); }

 protected:
  int fd() const { return fd_; }

 private:
  // Waits for more bytes until `until`; false at the end of the stream, on error or at the deadline.
  bool read_more(Clock::time_point until) {
    if (closed_) return false;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return false;
      char chunk[16 << 10];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        closed_ = true;
        return false;
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
      std::lock_guard lock(received_mutex_);
      received_.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
  }

  // Where `marker` starts in the buffer (at or after `from`), reading until `until`; npos when it did not
  // arrive.
  std::size_t find(std::string_view marker, std::size_t from, Clock::time_point until) {
    std::size_t at;
    while ((at = buffer_.find(marker, from)) == std::string::npos) {
      if (!read_more(until)) break;
    }
    return at;
  }

  // The Content-Length of the head that ends at `head_end` (0 when it has none).
  std::size_t content_length(std::size_t head_end) const {
    const auto at = buffer_.substr(0, head_end + 4).find("\r\nContent-Length: ");
    return at == std::string::npos ? 0 : std::stoul(buffer_.substr(at + 18));
  }

  // The first `total` bytes, once they arrived by `until`; "" when they did not.
  std::string take_message(std::size_t total, Clock::time_point until) {
    while (buffer_.size() < total) {
      if (!read_more(until)) return "";
    }
    return take(total);
  }

  std::string take(std::size_t n) {
    std::string out = buffer_.substr(0, n);
    buffer_.erase(0, n);
    return out;
  }

  int fd_;
  bool closed_ = false;
  std::string buffer_;  // read, not yet taken
  mutable std::mutex received_mutex_;
  std::string received_;
};

// A client connection to `port` on 127.0.0.1; connected() says whether the connect
// succeeded. Throws std::system_error when it cannot even make a socket.
class RawClient : public RawConnection {
 public:
  explicit RawClient(int port) : RawConnection(open_socket()) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }

  bool connected() const { return connected_; }
  // The port of our end, as the server sees it.
  int local_port() const {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    getsockname(fd(), reinterpret_cast<sockaddr*>(&addr), &len);
    return ntohs(addr.sin_port);
  }

 private:
  static int open_socket() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
    return fd;
  }

  bool connected_ = false;
};

// A TCP server on `address` (an IPv4 or IPv6 literal), port 0. It accepts
// connections until destroyed and runs `script` on each, on a thread of its
// own, with the connection's index (0, 1, ... in accept order). Destruction
// shuts every connection down (ending the scripts' waits) and joins them.
// Whatever the scripts use must be declared before it.
class ScriptedServer {
 public:
  using Script = std::function<void(RawConnection&, int index)>;

  explicit ScriptedServer(Script script, const std::string& address = "127.0.0.1")
      : script_(std::move(script)) {
    sockaddr_storage addr{};
    socklen_t len;
    if (address.find(':') != std::string::npos) {
      auto* a6 = reinterpret_cast<sockaddr_in6*>(&addr);
      a6->sin6_family = AF_INET6;
      inet_pton(AF_INET6, address.c_str(), &a6->sin6_addr);
      len = sizeof(sockaddr_in6);
    } else {
      auto* a4 = reinterpret_cast<sockaddr_in*>(&addr);
      a4->sin_family = AF_INET;
      inet_pton(AF_INET, address.c_str(), &a4->sin_addr);
      len = sizeof(sockaddr_in);
    }
    listen_fd_ = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;  // port() stays 0
    }
    port_ = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                             : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    {
      std::lock_guard lock(mutex_);
      for (auto& c : connections_) c->close();
    }
    for (auto& t : scripts_) t.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  // 0 when it could not listen.
  int port() const { return port_; }
  int accepted() const {
    std::lock_guard lock(mutex_);
    return static_cast<int>(connections_.size());
  }
  // How many scripts have returned.
  int finished() const { return finished_; }
  // Waits (at most `wait`) until `n` scripts have returned.
  bool wait_finished(int n, std::chrono::milliseconds wait = kRawWait) const {
    const auto until = RawConnection::Clock::now() + wait;
    while (finished_ < n) {
      if (RawConnection::Clock::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }
  // Every byte connection `index` received so far ("" for one never accepted).
  std::string received(int index) const {
    std::lock_guard lock(mutex_);
    if (index < 0 || index >= static_cast<int>(connections_.size())) return "";
    return connections_[static_cast<std::size_t>(index)]->received();
  }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 10) <= 0) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard lock(mutex_);
      connections_.push_back(std::make_unique<RawConnection>(fd));
      RawConnection* c = connections_.back().get();
      const int index = static_cast<int>(connections_.size()) - 1;
      scripts_.emplace_back([this, c, index] {
        script_(*c, index);
        ++finished_;
      });
    }
  }

  Script script_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> finished_{0};
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<RawConnection>> connections_;
  std::vector<std::thread> scripts_;  // touched by the acceptor, then joined by the destructor
  std::thread acceptor_;
};

}  // namespace dsgw::test
