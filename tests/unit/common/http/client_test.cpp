// http::Client against a scripted upstream on loopback: the upstream records the
// raw request bytes and answers with given bytes, split and paced as a test needs.
// Every wait is bounded (kRawWait, short client timeouts), so a broken client
// fails a check instead of hanging the suite.
#include "common/http/client.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/unit/common/http/raw_socket.h"

using namespace std::chrono_literals;
using dsgw::http::Abort;
using dsgw::http::Client;
using dsgw::http::ClientSettings;
using dsgw::http::Headers;
using dsgw::http::Origin;
using dsgw::http::ResponseHead;
using dsgw::http::SendResult;
using dsgw::http::TransportError;
using dsgw::test::kRawWait;
using dsgw::test::RawConnection;
using dsgw::test::ScriptedServer;
using dsgw::test::Signal;

namespace {

using Clock = std::chrono::steady_clock;

ClientSettings test_settings() {
  ClientSettings s;
  s.connect_timeout = 1s;
  s.read_timeout = 2s;
  s.write_timeout = 2s;
  return s;
}

Origin local(int port) { return Origin{false, "127.0.0.1", port}; }

// What one send() handed over.
struct Exchange {
  SendResult result;
  int heads = 0;  // on_head calls
  ResponseHead head;
  std::vector<std::string> pieces;  // on_body calls, in order

  std::string body() const {
    std::string all;
    for (const auto& p : pieces) all += p;
    return all;
  }
};

struct Stops {
  bool on_head = false;  // on_head returns false
  bool on_body = false;  // on_body returns false
};

Exchange exchange(Client& client, Abort& abort, std::string_view path = "/v1/x", std::string_view body = "",
                  const Headers& headers = {}, Stops stops = {}, std::string_view method = "POST") {
  Exchange e;
  e.result = client.send(
      method, path, headers, body,
      [&](const ResponseHead& head) {
        ++e.heads;
        e.head = head;
        return !stops.on_head;
      },
      [&](std::string_view piece) {
        e.pieces.emplace_back(piece);
        return !stops.on_body;
      },
      abort);
  return e;
}

Exchange exchange(Client& client, std::string_view path = "/v1/x", std::string_view body = "",
                  const Headers& headers = {}, Stops stops = {}, std::string_view method = "POST") {
  Abort abort;
  return exchange(client, abort, path, body, headers, stops, method);
}

// The bytes the client sends for a POST of `body` to `path` with no extra headers.
std::string request_text(int port, std::string_view path, std::string_view body, std::string_view method = "POST") {
  return std::string(method) + " " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

// A 200 answer with a Content-Length body.
std::string ok_text(std::string_view body, std::string_view extra_fields = "") {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + std::string(extra_fields) +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

// Answers every request on the connection with `answer`, until the client closes.
ScriptedServer::Script answer_each(std::string answer) {
  return [answer = std::move(answer)](RawConnection& c, int) {
    while (!c.read_request().empty()) {
      if (!c.send(answer)) return;
    }
  };
}

// Answers every request with ok_text("#<index of the connection>").
void answer_with_index(RawConnection& c, int index) {
  while (!c.read_request().empty()) {
    std::string body = "#";  // not "#" + ...: g++ 12 warns falsely (-Wrestrict) on that at -O3
    body += std::to_string(index);
    if (!c.send(ok_text(body))) return;
  }
}

std::string error_name(TransportError e) {
  switch (e) {
    case TransportError::kNone: return "kNone";
    case TransportError::kConnect: return "kConnect";
    case TransportError::kTlsVerify: return "kTlsVerify";
    case TransportError::kTlsHandshake: return "kTlsHandshake";
    case TransportError::kWrite: return "kWrite";
    case TransportError::kRead: return "kRead";
    case TransportError::kStopped: return "kStopped";
    case TransportError::kAborted: return "kAborted";
  }
  return "?";
}

}  // namespace

TEST_CASE("http Client writes the request line, Host with the port, the headers, Content-Length and the body") {
  ScriptedServer upstream(answer_each(ok_text("fine")));
  REQUIRE(upstream.port() > 0);
  Client client(local(upstream.port()), test_settings());
  Headers headers;
  headers.add("Content-Type", "application/json");
  headers.add("Authorization", "Bearer k1");
  headers.add("X-Empty", "");
  const Exchange posted = exchange(client, "/v1/x", R"({"a":1})", headers);
  REQUIRE(posted.result);
  const std::string host = "Host: 127.0.0.1:" + std::to_string(upstream.port()) + "\r\n";
  const std::string post = "POST /v1/x HTTP/1.1\r\n" + host +
                           "Content-Type: application/json\r\nAuthorization: Bearer k1\r\nX-Empty: \r\n"
                           "Content-Length: 7\r\n\r\n{\"a\":1}";
  CHECK(upstream.received(0) == post);

  // A GET without a body, with the query kept as given.
  const Exchange got = exchange(client, "/v1/models?limit=2", "", {}, {}, "GET");
  REQUIRE(got.result);
  CHECK(upstream.received(0) == post + "GET /v1/models?limit=2 HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n");
  CHECK(upstream.accepted() == 1);
}

// RFC 9110 7.2 / RFC 3986 3.2.2: an IPv6 literal in Host is written in brackets.
TEST_CASE("http Client writes an IPv6 literal in Host in brackets") {
  ScriptedServer upstream(answer_each(ok_text("v6")), "::1");
  if (upstream.port() == 0) {
    MESSAGE("no IPv6 loopback here; skipped");
    return;
  }
  Client client(Origin{false, "::1", upstream.port()}, test_settings());
  const Exchange e = exchange(client, "/v1/x", "");
  CHECK(e.result);
  CHECK(e.body() == "v6");
  // An IPv6 literal is bracketed in Host (RFC 9110 7.2), "Host: ::1:PORT" would be invalid.
  CHECK(upstream.received(0) == "POST /v1/x HTTP/1.1\r\nHost: [::1]:" + std::to_string(upstream.port()) +
                                    "\r\nContent-Length: 0\r\n\r\n");
}

TEST_CASE("http Client hands over a Content-Length answer's status, fields and exact body") {
  std::string big(100'000, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  ScriptedServer upstream([&](RawConnection& c, int) {
    if (c.read_request().empty()) return;
    const std::string answer = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Request-Id: r-7\r\n"
                               "Content-Length: 100000\r\n\r\n" + big;
    c.send(answer.substr(0, 200));
    std::this_thread::sleep_for(20ms);
    c.send(answer.substr(200));
    c.read_request();  // until the client closes
  });
  Client client(local(upstream.port()), test_settings());
  const Exchange e = exchange(client);
  CHECK_MESSAGE(e.result, e.result.detail);
  CHECK(e.heads == 1);
  CHECK(e.head.status == 201);
  CHECK(e.head.headers.get("content-type") == "application/json");
  CHECK(e.head.headers.get("X-REQUEST-ID") == "r-7");
  CHECK(e.head.headers.get("Content-Length") == "100000");
  CHECK_FALSE(e.head.headers.has("Transfer-Encoding"));
  CHECK(e.pieces.size() >= 2);  // it arrived in two writes at least
  CHECK(e.body() == big);
}

TEST_CASE("http Client de-chunks an answer sent in small pieces, with chunk extensions and a trailer") {
  ScriptedServer upstream([](RawConnection& c, int) {
    if (c.read_request().empty()) return;
    c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    const std::string chunks = "5;name=value\r\nhello\r\n1\r\n \r\nA;x=\"q\"\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n";
    for (std::size_t at = 0; at < chunks.size(); at += 4) {  // splits sizes, data and line ends
      std::this_thread::sleep_for(2ms);
      c.send(chunks.substr(at, 4));
    }
    // And the next request on the same connection: the trailer was read to its end.
    if (c.read_request().empty()) return;
    c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nend\r\n0\r\n\r\n");
    c.read_request();
  });
  Client client(local(upstream.port()), test_settings());
  const Exchange e = exchange(client);
  CHECK_MESSAGE(e.result, e.result.detail);
  CHECK(e.head.status == 200);
  CHECK(e.pieces.size() >= 2);
  CHECK(e.body() == "hello 0123456789");
  const Exchange next = exchange(client);
  CHECK_MESSAGE(next.result, next.result.detail);
  CHECK(next.body() == "end");
  CHECK(upstream.accepted() == 1);
}

TEST_CASE("http Client hands over a streamed answer's first piece before the upstream sends the rest") {
  Signal first_seen;
  std::atomic<bool> waited{false};
  ScriptedServer upstream([&](RawConnection& c, int) {
    if (c.read_request().empty()) return;
    c.send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
    waited = first_seen.wait();  // the rest follows only once the client handed over "first"
    c.send("7\r\n second\r\n");
    std::this_thread::sleep_for(10ms);
    c.send("0\r\n\r\n");
    c.read_request();
  });
  Client client(local(upstream.port()), test_settings());
  Abort abort;
  Exchange e;
  e.result = client.send(
      "POST", "/v1/x", {}, "", [&](const ResponseHead& head) { e.head = head; return true; },
      [&](std::string_view piece) {
        e.pieces.emplace_back(piece);
        first_seen.raise();
        return true;
      },
      abort);
  CHECK_MESSAGE(e.result, e.result.detail);
  CHECK(waited);
  REQUIRE_FALSE(e.pieces.empty());
  CHECK(e.pieces.front() == "first");
  CHECK(e.body() == "first second");
}

TEST_CASE("http Client reads an answer without a length up to the close, and opens a new connection next") {
  ScriptedServer upstream([](RawConnection& c, int index) {
    if (c.read_request().empty()) return;
    c.send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome");
    std::this_thread::sleep_for(10ms);
    c.send(" more #" + std::to_string(index));
    c.close();
  });
  Client client(local(upstream.port()), test_settings());
  const Exchange e = exchange(client);
  CHECK_MESSAGE(e.result, e.result.detail);
  CHECK(e.head.status == 200);
  CHECK(e.body() == "some more #0");
  const Exchange next = exchange(client);
  CHECK_MESSAGE(next.result, next.result.detail);
  CHECK(next.body() == "some more #1");
  CHECK(upstream.accepted() == 2);
}

TEST_CASE("http Client skips interim 1xx answers before the final one") {
  ScriptedServer upstream([](RawConnection& c, int) {
    if (c.read_request().empty()) return;
    c.send("HTTP/1.1 100 Continue\r\n\r\n");
    std::this_thread::sleep_for(10ms);
    c.send("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" + ok_text("final"));
    c.read_request();
  });
  Client client(local(upstream.port()), test_settings());
  const Exchange e = exchange(client);
  CHECK_MESSAGE(e.result, e.result.detail);
  CHECK(e.heads == 1);
  CHECK(e.head.status == 200);
  CHECK_FALSE(e.head.headers.has("Link"));
  CHECK(e.head.headers.get("Content-Type") == "text/plain");
  CHECK(e.body() == "final");
}

TEST_CASE("http Client reads no body after HEAD, 204 or 304 and keeps the connection") {
  ScriptedServer upstream([](RawConnection& c, int) {
    // HEAD: the Content-Length a GET would get, no body.
    if (c.read_request().empty()) return;
    c.send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
    if (c.read_request().empty()) return;
    c.send("HTTP/1.1 204 No Content\r\n\r\n");
    if (c.read_request().empty()) return;
    c.send("HTTP/1.1 304 Not Modified\r\n\r\n");
    answer_with_index(c, 0);
  });
  Client client(local(upstream.port()), test_settings());
  const Exchange head = exchange(client, "/h", "", {}, {}, "HEAD");
  CHECK_MESSAGE(head.result, head.result.detail);
  CHECK(head.head.status == 200);
  CHECK(head.pieces.empty());
  const Exchange none = exchange(client);
  CHECK_MESSAGE(none.result, none.result.detail);
  CHECK(none.head.status == 204);
  CHECK(none.pieces.empty());
  const Exchange same = exchange(client, "/v1/x", "", {}, {}, "GET");
  CHECK_MESSAGE(same.result, same.result.detail);
  CHECK(same.head.status == 304);
  CHECK(same.pieces.empty());
  const Exchange last = exchange(client);
  CHECK(last.body() == "#0");
  CHECK(upstream.accepted() == 1);
}

TEST_CASE("http Client sends the next request on the kept-alive connection") {
  ScriptedServer upstream(answer_with_index);
  Client client(local(upstream.port()), test_settings());
  const Exchange one = exchange(client, "/one", "a");
  const Exchange two = exchange(client, "/two", "bc");
  CHECK_MESSAGE(one.result, one.result.detail);
  CHECK_MESSAGE(two.result, two.result.detail);
  CHECK(one.body() == "#0");
  CHECK(two.body() == "#0");
  CHECK(upstream.accepted() == 1);
  CHECK(upstream.received(0) ==
        request_text(upstream.port(), "/one", "a") + request_text(upstream.port(), "/two", "bc"));
}

TEST_CASE("http Client opens a new connection after an answer that does not keep it") {
  std::string answer;
  SUBCASE("Connection: close") { answer = ok_text("bye", "Connection: close\r\n"); }
  SUBCASE("Connection: close among other tokens") { answer = ok_text("bye", "Connection: Upgrade, CLOSE\r\n"); }
  SUBCASE("HTTP/1.0 without keep-alive") { answer = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nbye"; }
  // The upstream leaves the connection open: only the answer says not to reuse it.
  ScriptedServer upstream(answer_each(answer));
  Client client(local(upstream.port()), test_settings());
  const Exchange one = exchange(client, "/one");
  const Exchange two = exchange(client, "/two");
  CHECK_MESSAGE(one.result, one.result.detail);
  CHECK_MESSAGE(two.result, two.result.detail);
  CHECK(two.body() == "bye");
  CHECK(upstream.accepted() == 2);
  CHECK(upstream.received(0) == request_text(upstream.port(), "/one", ""));
  CHECK(upstream.received(1) == request_text(upstream.port(), "/two", ""));
}

TEST_CASE("http Client keeps an HTTP/1.0 answer's connection when it says keep-alive") {
  ScriptedServer upstream(answer_each("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"));
  Client client(local(upstream.port()), test_settings());
  CHECK(exchange(client).result);
  CHECK(exchange(client).result);
  CHECK(upstream.accepted() == 1);
}

TEST_CASE("http Client does not reuse an idle connection the upstream closed") {
  ScriptedServer upstream([](RawConnection& c, int index) {
    if (index > 0) return answer_with_index(c, index);
    if (c.read_request().empty()) return;
    c.send(ok_text("#0"));  // kept alive, as far as the answer goes
    c.close();
  });
  Client client(local(upstream.port()), test_settings());
  const Exchange one = exchange(client);
  CHECK(one.body() == "#0");
  REQUIRE(upstream.wait_finished(1));
  std::this_thread::sleep_for(20ms);  // the close reaches the client's socket
  const Exchange two = exchange(client);
  CHECK_MESSAGE(two.result, two.result.detail);
  CHECK(two.body() == "#1");
  CHECK(upstream.accepted() == 2);
}

TEST_CASE("http Client reports kConnect when nothing listens") {
  // A bound socket that does not listen: connections to its port are refused.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  Client client(local(ntohs(addr.sin_port)), test_settings());
  const auto start = Clock::now();
  const Exchange e = exchange(client);
  ::close(fd);
  CHECK(error_name(e.result.error) == "kConnect");
  CHECK_FALSE(e.result.detail.empty());
  CHECK(e.heads == 0);
  CHECK(Clock::now() - start < 1s);
}

TEST_CASE("http Client reports kRead when the upstream closes without answering") {
  ScriptedServer upstream([](RawConnection& c, int) {
    c.read_request();
    c.close();
  });
  Client client(local(upstream.port()), test_settings());
  const Exchange e = exchange(client, "/v1/x", "q");
  CHECK(error_name(e.result.error) == "kRead");
  CHECK(e.heads == 0);
  CHECK(upstream.received(0) == request_text(upstream.port(), "/v1/x", "q"));
}

TEST_CASE("http Client reports kRead when no answer comes within read_timeout") {
  ScriptedServer upstream([](RawConnection& c, int) { c.read_to_close(); });
  ClientSettings settings = test_settings();
  settings.read_timeout = 200ms;
  Client client(local(upstream.port()), settings);
  const auto start = Clock::now();
  const Exchange e = exchange(client);
  const auto took = Clock::now() - start;
  CHECK(error_name(e.result.error) == "kRead");
  CHECK(e.heads == 0);
  CHECK(took >= 150ms);
  CHECK(took < 1500ms);
}

TEST_CASE("http Client reports kRead for an answer that is not HTTP/1.x") {
  std::string answer;
  SUBCASE("another protocol") { answer = "ICY 200 OK\r\nContent-Length: 0\r\n\r\n"; }
  SUBCASE("HTTP/2") { answer = "HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n"; }
  SUBCASE("a two-digit status") { answer = "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n"; }
  SUBCASE("a status that is not a number") { answer = "HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n"; }
  SUBCASE("no status") { answer = "HTTP/1.1\r\nContent-Length: 0\r\n\r\n"; }
  SUBCASE("a malformed field") { answer = "HTTP/1.1 200 OK\r\nNo colon here\r\nContent-Length: 0\r\n\r\n"; }
  SUBCASE("a malformed Content-Length") { answer = "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello"; }
  SUBCASE("a malformed chunk size") { answer = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"; }
  CAPTURE(answer);
  ScriptedServer upstream(answer_each(answer));
  Client client(local(upstream.port()), test_settings());
  const Exchange e = exchange(client);
  CHECK(error_name(e.result.error) == "kRead");
  CHECK(e.pieces.empty());
}

// RFC 9112 4: status-line = HTTP-version SP status-code SP [ reason-phrase ], status-code = 3DIGIT.
TEST_CASE("http Client reports kRead for a status code of four digits") {
  ScriptedServer upstream(answer_each("HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n"));
  Client client(local(upstream.port()), test_settings());
  const Exchange e = exchange(client);
  // The status is exactly three digits: "HTTP/1.1 2000 OK" is not status 200.
  CHECK(error_name(e.result.error) == "kRead");
  CHECK(e.heads == 0);
}

TEST_CASE("http Client takes a status line without a reason phrase") {
  ScriptedServer upstream(answer_each("HTTP/1.1 404 \r\nContent-Length: 1\r\n\r\nx"));
  Client client(local(upstream.port()), test_settings());
  const Exchange e = exchange(client);
  CHECK_MESSAGE(e.result, e.result.detail);
  CHECK(e.head.status == 404);
  CHECK(e.body() == "x");
}

TEST_CASE("http Client reports kRead when the answer breaks off in the body") {
  std::string answer;
  std::string delivered;
  SUBCASE("short of its Content-Length") {
    answer = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello";
    delivered = "hello";
  }
  SUBCASE("before the last chunk") {
    answer = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
    delivered = "hello";
  }
  SUBCASE("within a chunk") {
    answer = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel";
    delivered = "hel";
  }
  SUBCASE("in the trailer") {
    answer = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n";
    delivered = "hello";
  }
  CAPTURE(answer);
  ScriptedServer upstream([&](RawConnection& c, int) {
    if (c.read_request().empty()) return;
    c.send(answer);
    c.close();
  });
  Client client(local(upstream.port()), test_settings());
  const Exchange e = exchange(client);
  CHECK(error_name(e.result.error) == "kRead");
  CHECK(e.heads == 1);
  CHECK(e.head.status == 200);
  // A decoder may hand a chunk's data over as it arrives, or only whole.
  CHECK(delivered.starts_with(e.body()));
}

TEST_CASE("http Client reports kStopped when on_head returns false, and opens a new connection next") {
  ScriptedServer upstream(answer_with_index);
  Client client(local(upstream.port()), test_settings());
  Stops stops;
  stops.on_head = true;
  const Exchange e = exchange(client, "/v1/x", "", {}, stops);
  CHECK(error_name(e.result.error) == "kStopped");
  CHECK(e.heads == 1);
  CHECK(e.pieces.empty());
  const Exchange next = exchange(client);
  CHECK_MESSAGE(next.result, next.result.detail);
  CHECK(next.body() == "#1");
  CHECK(upstream.accepted() == 2);
}

TEST_CASE("http Client reports kStopped when on_body returns false, and does not reuse that connection") {
  std::string answer;
  SUBCASE("Content-Length") { answer = ok_text("whole body"); }
  SUBCASE("chunked") { answer = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\nwhole body\r\n0\r\n\r\n"; }
  CAPTURE(answer);
  ScriptedServer upstream([&](RawConnection& c, int index) {
    if (index > 0) return answer_with_index(c, index);
    while (!c.read_request().empty()) c.send(answer);  // would answer a reused connection too
  });
  Client client(local(upstream.port()), test_settings());
  Stops stops;
  stops.on_body = true;
  const Exchange e = exchange(client, "/first", "", {}, stops);
  CHECK(error_name(e.result.error) == "kStopped");
  CHECK(e.pieces.size() == 1);
  const Exchange next = exchange(client, "/second");
  CHECK_MESSAGE(next.result, next.result.detail);
  CHECK(next.body() == "#1");
  CHECK(upstream.accepted() == 2);
  CHECK(upstream.received(0) == request_text(upstream.port(), "/first", ""));
}

TEST_CASE("http Client ends an exchange promptly when its Abort is tripped from another thread") {
  Signal got_request;
  std::atomic<bool> saw_close{false};
  ScriptedServer upstream([&](RawConnection& c, int index) {
    if (index > 0) return answer_with_index(c, index);
    if (c.read_request().empty()) return;
    got_request.raise();
    c.read_to_close(2s);  // the delayed answer; the aborted client leaves before
    saw_close = c.closed();
    c.send(ok_text("too late"));
  });
  Client client(local(upstream.port()), test_settings());
  Abort abort;
  Clock::time_point tripped_at;
  std::thread tripper([&] {
    got_request.wait();
    tripped_at = Clock::now();
    abort.trip();
  });
  const auto start = Clock::now();
  const Exchange e = exchange(client, abort);
  const auto returned_at = Clock::now();
  tripper.join();
  CHECK(error_name(e.result.error) == "kAborted");
  CHECK(e.heads == 0);
  CHECK(abort.tripped());
  CHECK(returned_at - tripped_at < 500ms);
  CHECK(returned_at - start < 1500ms);  // well under the 2 s delay
  REQUIRE(upstream.wait_finished(1));
  CHECK(saw_close);

  // The next exchange, with a fresh Abort, goes over a new connection.
  const Exchange next = exchange(client);
  CHECK_MESSAGE(next.result, next.result.detail);
  CHECK(next.body() == "#1");
  CHECK(upstream.accepted() == 2);
}

TEST_CASE("http Client ends an exchange whose Abort was tripped while the body streams") {
  ScriptedServer upstream([&](RawConnection& c, int) {
    if (c.read_request().empty()) return;
    c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n");
    c.read_to_close(2s);
  });
  Client client(local(upstream.port()), test_settings());
  Abort abort;
  std::vector<std::string> pieces;
  std::thread tripper;
  const auto start = Clock::now();
  const SendResult result = client.send(
      "POST", "/v1/x", {}, "", [](const ResponseHead&) { return true; },
      [&](std::string_view piece) {
        pieces.emplace_back(piece);
        if (!tripper.joinable()) tripper = std::thread([&] { abort.trip(); });
        return true;
      },
      abort);
  if (tripper.joinable()) tripper.join();
  CHECK(error_name(result.error) == "kAborted");
  CHECK(pieces == std::vector<std::string>{"one"});
  CHECK(Clock::now() - start < 1500ms);
}

TEST_CASE("http Client sends nothing when its Abort was tripped before send, and works next time") {
  ScriptedServer upstream(answer_with_index);
  Client client(local(upstream.port()), test_settings());
  Abort abort;
  abort.trip();
  const Exchange e = exchange(client, abort);
  CHECK(error_name(e.result.error) == "kAborted");
  CHECK(e.heads == 0);
  CHECK(e.pieces.empty());

  const Exchange next = exchange(client, "/after");
  CHECK_MESSAGE(next.result, next.result.detail);
  // Connections are accepted in the order they were opened: whatever the aborted exchange
  // opened came first, and none of it carried a byte.
  std::string all;
  for (int i = 0; i < upstream.accepted(); ++i) all += upstream.received(i);
  CHECK(all == request_text(upstream.port(), "/after", ""));
  CHECK(next.body() == "#" + std::to_string(upstream.accepted() - 1));
}
