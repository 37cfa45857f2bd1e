// http::Server over real loopback sockets: the test writes raw request bytes and
// compares the raw answer. Every wait is bounded by kWait, so a broken server
// fails a check instead of hanging the suite.
#include "common/http/server.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "tests/unit/common/http/raw_socket.h"
#include "tests/unit/test_util.h"

using namespace std::chrono_literals;
using dsgw::http::BodySink;
using dsgw::http::Request;
using dsgw::http::Response;
using dsgw::http::Server;
using dsgw::http::ServerSettings;
using dsgw::test::eventually;
using dsgw::test::RawClient;
using dsgw::test::Signal;

namespace {

using Clock = std::chrono::steady_clock;

// The bound on every wait for something that should happen.
constexpr std::chrono::milliseconds kWait = dsgw::test::kRawWait;

ServerSettings test_settings() {
  ServerSettings s;
  s.workers = 4;
  s.read_timeout = 2s;
  s.write_timeout = 2s;
  s.idle_timeout = 2s;
  s.max_body_bytes = 1 << 20;
  return s;
}

// Answers "<method> <path>?<query> <body>".
void echo(const Request& req, Response& res) {
  res.set_content(req.method + " " + req.path + "?" + req.query + " " + req.body, "text/plain");
}

void error_answer(int status, const std::string& /*message*/, Response& res) {
  res.set_content("error " + std::to_string(status), "text/plain");
}

// The bytes of a 200 answer with a text/plain body (what echo() sends).
std::string ok_text(std::string_view body, bool close = false) {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n" + std::string(body);
}

// The bytes of error_answer()'s answer.
std::string error_text(int status, std::string_view reason) {
  const std::string body = "error " + std::to_string(status);
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

constexpr std::string_view kStreamHead =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

// A Server on 127.0.0.1, port 0, serving on its own thread until stopped or destroyed.
// Whatever its handlers use must be declared before it, the clients after it.
class RunningServer {
 public:
  explicit RunningServer(Server::Handler handler, ServerSettings settings = test_settings(),
                         Server::ErrorHandler on_error = error_answer)
      : server_(std::move(settings), std::move(handler), std::move(on_error)) {
    const auto port = server_.bind();
    REQUIRE(port.has_value());
    port_ = port.value();
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] {
      server_.serve();
      served_ = true;
    });
  }
  ~RunningServer() {
    server_.stop();
    thread_.join();
  }
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;

  int port() const { return port_; }
  void stop() { server_.stop(); }
  // serve() has returned.
  bool served() const { return served_; }

 private:
  Server server_;
  int port_ = 0;
  std::atomic<bool> served_{false};
  std::thread thread_;
};

// Streams "one", "two", "three" (and an empty write, which must send nothing).
bool three_pieces(BodySink& sink) {
  return sink.write("one") && sink.write("two") && sink.write("") && sink.write("three");
}

}  // namespace

TEST_CASE("http Server answers a GET with status line, headers and a Content-Length body") {
  RunningServer server(echo);
  RawClient client(server.port());
  REQUIRE(client.connected());
  REQUIRE(client.send("GET /v1/models?limit=2 HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  CHECK(client.read_response() == ok_text("GET /v1/models?limit=2 "));
  CHECK_FALSE(client.closed());
}

TEST_CASE("http Server hands the handler a Content-Length body whole, however it arrives") {
  RunningServer server(echo);
  RawClient client(server.port());
  std::string body(100'000, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  REQUIRE(client.send("POST /upload HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + body.substr(0, 10)));
  std::this_thread::sleep_for(20ms);
  REQUIRE(client.send(body.substr(10)));
  CHECK(client.read_response() == ok_text("POST /upload? " + body));
}

TEST_CASE("http Server hands the handler a chunked body decoded") {
  RunningServer server(echo);
  RawClient client(server.port());
  REQUIRE(client.send("POST /chunks HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"));
  std::this_thread::sleep_for(20ms);
  REQUIRE(client.send("lo\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"));
  CHECK(client.read_response() == ok_text("POST /chunks? hello world"));
}

TEST_CASE("http Server answers pipelined and kept-alive requests on one connection in order") {
  RunningServer server(echo);
  RawClient client(server.port());
  REQUIRE(
      client.send("GET /one HTTP/1.1\r\n\r\n"
                  "POST /two HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                  "GET /three?x HTTP/1.1\r\n\r\n"));
  CHECK(client.read_response() == ok_text("GET /one? "));
  CHECK(client.read_response() == ok_text("POST /two? abc"));
  CHECK(client.read_response() == ok_text("GET /three?x "));
  // And once more after a pause, on the same connection.
  REQUIRE(client.send("GET /four HTTP/1.1\r\n\r\n"));
  CHECK(client.read_response() == ok_text("GET /four? "));
  CHECK_FALSE(client.closed());
}

TEST_CASE("http Server answers Connection: close with Connection: close and closes") {
  RunningServer server(echo);
  RawClient client(server.port());
  REQUIRE(client.send("GET /bye HTTP/1.1\r\nConnection: close\r\n\r\n"));
  CHECK(client.read_to_close() == ok_text("GET /bye? ", true));
  CHECK(client.closed());
}

TEST_CASE("http Server answers an HTTP/1.0 request and closes unless asked to keep alive") {
  RunningServer server(echo);
  RawClient once(server.port());
  REQUIRE(once.send("GET /old HTTP/1.0\r\n\r\n"));
  CHECK(once.read_to_close() == ok_text("GET /old? ", true));
  CHECK(once.closed());

  RawClient kept(server.port());
  REQUIRE(kept.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n"));
  CHECK(kept.read_to_close() == ok_text("GET /a? ") + ok_text("GET /b? ", true));
  CHECK(kept.closed());
}

TEST_CASE("http Server answers a malformed request through the ErrorHandler and closes") {
  std::atomic<int> handled{0};
  std::atomic<int> error_status{0};
  std::atomic<bool> message_empty{true};
  RunningServer server(
      [&](const Request& req, Response& res) {
        ++handled;
        echo(req, res);
      },
      test_settings(),
      [&](int status, const std::string& message, Response& res) {
        error_status = status;
        message_empty = message.empty();
        error_answer(status, message, res);
      });
  RawClient client(server.port());
  REQUIRE(client.send(
      "GET /fine HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\nBad Field\r\n\r\nGET /never HTTP/1.1\r\n\r\n"));
  CHECK(client.read_to_close() == ok_text("GET /fine? ") + error_text(400, "Bad Request"));
  CHECK(client.closed());
  CHECK(handled == 1);
  CHECK(error_status == 400);
  CHECK_FALSE(message_empty);

  RawClient version(server.port());
  REQUIRE(version.send("GET / HTTP/2.0\r\n\r\n"));
  CHECK(version.read_to_close() == error_text(505, "HTTP Version Not Supported"));
  CHECK(version.closed());
  CHECK(error_status == 505);
}

TEST_CASE("http Server answers a body over max_body_bytes with 413 the client can read after sending it") {
  ServerSettings settings = test_settings();
  settings.max_body_bytes = 1024;
  RunningServer server(echo, settings);
  const std::string big(4 << 20, 'x');

  SUBCASE("declared by Content-Length") {
    RawClient client(server.port());
    REQUIRE(client.send("POST /big HTTP/1.1\r\nContent-Length: " + std::to_string(big.size()) + "\r\n\r\n"));
    client.send(big);  // the server may stop reading at some point; what counts is the answer
    CHECK(client.read_to_close() == error_text(413, "Payload Too Large"));
    CHECK(client.closed());
  }
  SUBCASE("found while reading chunks") {
    RawClient client(server.port());
    REQUIRE(client.send("POST /big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" +
                        big.substr(0, 1024) + "\r\n"));
    client.send("400000\r\n" + big + "\r\n0\r\n\r\n");
    CHECK(client.read_to_close() == error_text(413, "Payload Too Large"));
    CHECK(client.closed());
  }
}

TEST_CASE("http Server answers a request that stops arriving with 408") {
  ServerSettings settings = test_settings();
  settings.read_timeout = 200ms;
  RunningServer server(echo, settings);

  RawClient head(server.port());
  REQUIRE(head.send("GET /slow HTTP/1.1\r\nHost: x\r\n"));
  CHECK(head.read_to_close() == error_text(408, "Request Timeout"));
  CHECK(head.closed());

  RawClient body(server.port());
  REQUIRE(body.send("POST /slow HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"));
  CHECK(body.read_to_close() == error_text(408, "Request Timeout"));
  CHECK(body.closed());
}

TEST_CASE("http Server answers 408 to a request trickling in past read_timeout in all") {
  ServerSettings settings = test_settings();
  settings.read_timeout = 300ms;
  RunningServer server(echo, settings);
  RawClient client(server.port());
  // Each byte comes well within read_timeout, the whole request does not.
  bool sent = client.send("POST /drip HTTP/1.1\r\nContent-Length: 20\r\n\r\n");
  for (int i = 0; i < 8 && sent; ++i) {
    std::this_thread::sleep_for(100ms);
    sent = client.send("x");
  }
  CHECK(client.read_to_close() == error_text(408, "Request Timeout"));
  CHECK(client.closed());
}

TEST_CASE("http Server closes without answering when the handler drops the connection") {
  RunningServer server([](const Request&, Response& res) {
    res.set_content("never sent", "text/plain");
    res.drop_connection = true;
  });
  RawClient client(server.port());
  REQUIRE(client.send("GET /gone HTTP/1.1\r\n\r\n"));
  CHECK(client.read_to_close() == "");
  CHECK(client.closed());
}

TEST_CASE("http Server survives a handler that throws: that connection closes, others are served") {
  RunningServer server([](const Request& req, Response& res) {
    if (req.path == "/throw") throw 42;  // not even a std::exception
    echo(req, res);
  });
  RawClient bad(server.port());
  REQUIRE(bad.send("GET /throw HTTP/1.1\r\n\r\n"));
  CHECK(bad.read_to_close() == "");
  CHECK(bad.closed());
  RawClient good(server.port());
  REQUIRE(good.send("GET /fine HTTP/1.1\r\n\r\n"));
  CHECK(good.read_response() == ok_text("GET /fine? "));
}

TEST_CASE("http Server sends 100 Continue before reading the body of an Expect: 100-continue request") {
  RunningServer server(echo);
  RawClient client(server.port());
  REQUIRE(client.send("POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  CHECK(client.read_response() == "HTTP/1.1 100 Continue\r\n\r\n");
  REQUIRE(client.send("hello"));
  CHECK(client.read_response() == ok_text("POST /e? hello"));
}

TEST_CASE("http Server sends a producer's pieces as chunks and ends with the last chunk") {
  RunningServer server([](const Request& req, Response& res) {
    if (req.path == "/stream") {
      res.set_producer("text/event-stream", three_pieces);
    } else {
      echo(req, res);
    }
  });
  RawClient client(server.port());
  REQUIRE(client.send("GET /stream HTTP/1.1\r\n\r\n"));
  CHECK(client.read_response() ==
        std::string(kStreamHead) + "3\r\none\r\n3\r\ntwo\r\n5\r\nthree\r\n0\r\n\r\n");
  // The connection goes on.
  REQUIRE(client.send("GET /after HTTP/1.1\r\n\r\n"));
  CHECK(client.read_response() == ok_text("GET /after? "));
}

TEST_CASE("http Server cuts the connection when the producer returns false") {
  RunningServer server([](const Request&, Response& res) {
    res.set_producer("text/event-stream", [](BodySink& sink) {
      sink.write("partial");
      return false;
    });
  });
  RawClient client(server.port());
  REQUIRE(client.send("GET /stream HTTP/1.1\r\n\r\n"));
  CHECK(client.read_to_close() == std::string(kStreamHead) + "7\r\npartial\r\n");
  CHECK(client.closed());
}

TEST_CASE("http BodySink::client_alive turns false once the client closes") {
  std::atomic<int> alive_at_start{-1};
  std::atomic<bool> done{false};
  std::atomic<bool> saw_gone{false};
  std::atomic<Clock::rep> saw_gone_at{0};
  RunningServer server([&](const Request&, Response& res) {
    res.set_producer("text/event-stream", [&](BodySink& sink) {
      alive_at_start = sink.client_alive() ? 1 : 0;
      sink.write("x");
      const auto until = Clock::now() + kWait;
      while (sink.client_alive() && Clock::now() < until) std::this_thread::sleep_for(5ms);
      saw_gone = !sink.client_alive();
      saw_gone_at = Clock::now().time_since_epoch().count();
      done = true;
      return false;
    });
  });
  RawClient client(server.port());
  REQUIRE(client.send("GET /watch HTTP/1.1\r\n\r\n"));
  REQUIRE(client.read_until("1\r\nx\r\n") == std::string(kStreamHead) + "1\r\nx\r\n");
  const auto closed_at = Clock::now();
  client.close();
  REQUIRE(eventually([&] { return done.load(); }, kWait + 1s));
  CHECK(alive_at_start == 1);
  CHECK(saw_gone);
  CHECK(Clock::time_point(Clock::duration(saw_gone_at.load())) - closed_at < 1500ms);
}

TEST_CASE("http Server tells the handler the client's address, port and socket") {
  std::mutex mutex;
  Request seen;
  int peer_port = -1;
  RunningServer server([&](const Request& req, Response& res) {
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    std::lock_guard lock(mutex);
    seen = req;
    if (getpeername(req.fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0) peer_port = ntohs(peer.sin_port);
    echo(req, res);
  });
  RawClient client(server.port());
  REQUIRE(client.send("PUT /who HTTP/1.1\r\nX-Name: v\r\nContent-Length: 2\r\n\r\nhi"));
  REQUIRE(client.read_response() == ok_text("PUT /who? hi"));
  std::lock_guard lock(mutex);
  CHECK(seen.remote_addr == "127.0.0.1");
  CHECK(seen.remote_port == client.local_port());
  CHECK(seen.fd >= 0);
  CHECK(peer_port == client.local_port());
  CHECK(seen.header("x-name") == "v");
  CHECK(seen.header("X-Missing") == "");
}

TEST_CASE("http Server::stop closes idle connections and lets a request in progress finish") {
  Signal entered;  // the slow request's handler is running
  Signal opened;   // ... and may go on (or kWait passes)
  RunningServer server([&](const Request& req, Response& res) {
    if (req.path == "/slow") {
      entered.raise();
      opened.wait();
    }
    echo(req, res);
  });
  RawClient idle(server.port());
  REQUIRE(idle.send("GET /fast HTTP/1.1\r\n\r\n"));
  REQUIRE(idle.read_response() == ok_text("GET /fast? "));
  RawClient busy(server.port());
  REQUIRE(busy.send("GET /slow HTTP/1.1\r\n\r\n"));
  REQUIRE(entered.wait());

  server.stop();
  CHECK(idle.read_to_close() == "");
  CHECK(idle.closed());
  CHECK_FALSE(server.served());  // the slow request holds it

  opened.raise();
  CHECK(busy.read_to_close() == ok_text("GET /slow? ", true));
  CHECK(busy.closed());
  CHECK(eventually([&] { return server.served(); }, kWait));
  RawClient late(server.port());
  CHECK_FALSE(late.connected());
}

TEST_CASE("http Server closes a connection that stays idle past idle_timeout") {
  ServerSettings settings = test_settings();
  settings.idle_timeout = 300ms;
  RunningServer server(echo, settings);

  RawClient used(server.port());
  REQUIRE(used.send("GET /once HTTP/1.1\r\n\r\n"));
  REQUIRE(used.read_response() == ok_text("GET /once? "));
  const auto start = Clock::now();
  CHECK(used.read_to_close() == "");
  CHECK(used.closed());
  CHECK(Clock::now() - start >= 100ms);  // it waited for the timeout, not less

  RawClient silent(server.port());
  CHECK(silent.read_to_close() == "");
  CHECK(silent.closed());
}

// RFC 9112 6.1: "A server MUST NOT send a response containing Transfer-Encoding unless
// the corresponding request indicates HTTP/1.1": an HTTP/1.0 client gets the raw pieces,
// and the close ends the body.
TEST_CASE("http Server streams to an HTTP/1.0 client without chunked encoding") {
  RunningServer server(
      [](const Request&, Response& res) { res.set_producer("text/event-stream", three_pieces); });
  RawClient client(server.port());
  REQUIRE(client.send("GET /stream HTTP/1.0\r\n\r\n"));
  const std::string answer = client.read_to_close();
  CHECK(client.closed());
  CHECK(answer.starts_with("HTTP/1."));
  CHECK(answer.find(" 200 OK\r\n") != std::string::npos);
  CHECK(answer.find("Transfer-Encoding") == std::string::npos);
  const auto head_end = answer.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  CHECK(answer.substr(head_end + 4) == "onetwothree");
}

// RFC 9112 6.3: a response to HEAD ends at the blank line after its header fields (with
// the Content-Length a GET would get); a body after it would be read as the next answer.
TEST_CASE("http Server sends no body in the answer to HEAD") {
  RunningServer server(echo);
  RawClient client(server.port());
  REQUIRE(client.send("HEAD /h HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\nConnection: close\r\n\r\n"));
  CHECK(client.read_to_close() == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\n" +
                                      ok_text("GET /next? ", true));
}
