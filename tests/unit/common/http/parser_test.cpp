// The HTTP/1.1 message types and the request parser (head and chunked body).
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "common/http/message.h"
#include "common/http/parser.h"

using dsgw::http::ChunkedDecoder;
using dsgw::http::Headers;
using dsgw::http::kMaxHeadBytes;
using dsgw::http::parse_head;
using dsgw::http::ParseError;
using dsgw::http::reason_phrase;
using dsgw::http::RequestHead;
using dsgw::http::Response;
using Framing = dsgw::http::RequestHead::Framing;

namespace {

constexpr std::uint64_t kMaxBody = 1 << 20;

// A request head: `request_line`, then `fields` (each "Name: value\r\n"), then the blank line.
std::string head_of(std::string_view request_line, std::string_view fields = "") {
  return std::string(request_line) + "\r\n" + std::string(fields) + "\r\n";
}

RequestHead parsed(std::string_view text, std::uint64_t max_body = kMaxBody) {
  auto result = parse_head(text, max_body);
  if (const auto* error = std::get_if<ParseError>(&result)) {
    FAIL("parse_head failed with " << error->status << ": " << error->message);
  }
  return std::get<RequestHead>(std::move(result));
}

// The status of the error parse_head answers with; fails the test when it parses.
int rejected(std::string_view text, std::uint64_t max_body = kMaxBody) {
  const auto result = parse_head(text, max_body);
  const auto* error = std::get_if<ParseError>(&result);
  REQUIRE_MESSAGE(error != nullptr, "parse_head accepted it");
  CHECK_FALSE(error->message.empty());
  return error->status;
}

// A chunked body fed to a fresh decoder in one call.
struct Decoded {
  std::size_t used;
  std::string body;
  bool done;
  int error_status;  // 0: none
};

Decoded decode(std::string_view in, std::uint64_t max_body = kMaxBody) {
  ChunkedDecoder decoder(max_body);
  Decoded out{};
  out.used = decoder.feed(in, out.body);
  out.done = decoder.done();
  out.error_status = decoder.error() ? decoder.error()->status : 0;
  return out;
}

}  // namespace

// --- message.h ---------------------------------------------------------------

TEST_CASE("http Headers: get and has compare names case-insensitively and return the first value") {
  Headers h;
  h.add("Content-Type", "text/plain");
  h.add("X-Dup", "one");
  h.add("x-dup", "two");
  CHECK(h.get("content-type") == "text/plain");
  CHECK(h.get("CONTENT-TYPE") == "text/plain");
  CHECK(h.get("X-DUP") == "one");
  CHECK(h.has("x-Dup"));
  CHECK_FALSE(h.has("X-Du"));
  CHECK_FALSE(h.get("Content-Typ").has_value());
  REQUIRE(h.fields().size() == 3);
  CHECK(h.fields()[2] == Headers::Field{"x-dup", "two"});
}

TEST_CASE("http Headers: set replaces every earlier value, add keeps them all") {
  Headers h;
  h.add("A", "1");
  h.add("X-Id", "old1");
  h.add("B", "2");
  h.add("x-id", "old2");
  h.set("X-ID", "new");
  REQUIRE(h.fields().size() == 3);
  CHECK(h.fields()[0] == Headers::Field{"A", "1"});
  CHECK(h.fields()[1] == Headers::Field{"B", "2"});
  CHECK(h.fields()[2] == Headers::Field{"X-ID", "new"});
  CHECK(h.get("x-id") == "new");

  h.add("X-Id", "again");
  CHECK(h.fields().size() == 4);
  CHECK(h.get("X-Id") == "new");  // still the first
}

TEST_CASE("http Response: set_content and set_producer set the body and one Content-Type") {
  Response res;
  CHECK(res.status == 200);
  res.headers.add("content-type", "text/html");
  res.set_content("{\"ok\":true}", "application/json");
  CHECK(res.body == "{\"ok\":true}");
  REQUIRE(res.headers.fields().size() == 1);
  CHECK(res.headers.get("Content-Type") == "application/json");
  CHECK_FALSE(static_cast<bool>(res.producer));

  res.set_producer("text/event-stream", [](dsgw::http::BodySink&) { return true; });
  CHECK(static_cast<bool>(res.producer));
  REQUIRE(res.headers.fields().size() == 1);
  CHECK(res.headers.get("content-type") == "text/event-stream");
}

TEST_CASE("http reason_phrase names the statuses dsgw sends and nothing else") {
  CHECK(reason_phrase(100) == "Continue");
  CHECK(reason_phrase(200) == "OK");
  CHECK(reason_phrase(400) == "Bad Request");
  CHECK(reason_phrase(404) == "Not Found");
  CHECK(reason_phrase(408) == "Request Timeout");
  CHECK(reason_phrase(413) == "Payload Too Large");
  CHECK(reason_phrase(429) == "Too Many Requests");
  CHECK(reason_phrase(431) == "Request Header Fields Too Large");
  CHECK(reason_phrase(501) == "Not Implemented");
  CHECK(reason_phrase(503) == "Service Unavailable");
  CHECK(reason_phrase(505) == "HTTP Version Not Supported");
  CHECK(reason_phrase(299) == "");
  CHECK(reason_phrase(0) == "");
  CHECK(reason_phrase(-1) == "");
}

// --- parse_head: the request line ----------------------------------------------

TEST_CASE("http parse_head splits the request target into path and query") {
  RequestHead h = parsed(head_of("GET /v1/models?limit=2&order=desc HTTP/1.1"));
  CHECK(h.method == "GET");
  CHECK(h.path == "/v1/models");
  CHECK(h.query == "limit=2&order=desc");

  h = parsed(head_of("POST /v1/chat/completions HTTP/1.1"));
  CHECK(h.method == "POST");
  CHECK(h.path == "/v1/chat/completions");
  CHECK(h.query == "");

  h = parsed(head_of("DELETE /a?b?c=%20 HTTP/1.1"));  // only the first '?' splits; nothing is decoded
  CHECK(h.method == "DELETE");
  CHECK(h.path == "/a");
  CHECK(h.query == "b?c=%20");

  h = parsed(head_of("GET /x? HTTP/1.1"));
  CHECK(h.path == "/x");
  CHECK(h.query == "");

  h = parsed(head_of("GET / HTTP/1.1"));
  CHECK(h.path == "/");
  CHECK(h.headers.fields().empty());
}

TEST_CASE("http parse_head skips empty lines before the request line") {
  const RequestHead h = parsed("\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(h.path == "/after");
  CHECK(h.headers.get("Host") == "a");
}

TEST_CASE("http parse_head accepts HTTP/1.0 and HTTP/1.1 and answers other versions with 505") {
  CHECK(parsed(head_of("GET / HTTP/1.1")).keep_alive);
  CHECK_FALSE(parsed(head_of("GET / HTTP/1.0")).keep_alive);
  CHECK(rejected(head_of("GET / HTTP/2.0")) == 505);
  CHECK(rejected(head_of("GET / HTTP/0.9")) == 505);
  CHECK(rejected(head_of("GET / HTTP/3")) == 505);
}

TEST_CASE("http parse_head answers a malformed request line with 400") {
  for (const char* line : {
           "hello",
           "GET",
           "GET /",
           "GET / HTTP/1.1 extra",  // the target would contain a space
           "GET /a b HTTP/1.1",
           "GET  / HTTP/1.1",  // two spaces: empty target
           "GET index.html HTTP/1.1",
           "G(T / HTTP/1.1",
           " / HTTP/1.1",
           "GET / http/1.1",
           "GET / HTTX/1.1",
           "GET / 1.1",
       }) {
    CAPTURE(line);
    CHECK(rejected(head_of(line)) == 400);
  }
  // Control characters in the target: a proxy in front could end the line at a bare LF.
  for (const std::string& line : {std::string("GET /a\nb HTTP/1.1"), std::string("GET /a\rb HTTP/1.1"),
                                 std::string("GET /a\tb HTTP/1.1"), std::string("GET /a\x7f HTTP/1.1"),
                                 std::string("GET /a\0b HTTP/1.1", 18)}) {
    CAPTURE(line);
    CHECK(rejected(head_of(line)) == 400);
  }
  CHECK(rejected("") == 400);
  CHECK(rejected("\r\n\r\n") == 400);
  CHECK(rejected("GET / HTTP/1.1") == 400);  // no line end at all
}

// --- parse_head: header fields ----------------------------------------------------

TEST_CASE("http parse_head keeps header fields in order, trims values, looks names up case-insensitively") {
  const RequestHead h = parsed(head_of("GET / HTTP/1.1",
                                       "Host: example.test:8080\r\n"
                                       "X-Spaces: \t  two words \t \r\n"
                                       "X-Empty:\r\n"
                                       "x-api-key:sk-abc\r\n"
                                       "X-Dup: 1\r\n"
                                       "X-DUP: 2\r\n"));
  CHECK(h.headers.get("host") == "example.test:8080");
  CHECK(h.headers.get("x-spaces") == "two words");
  CHECK(h.headers.get("X-EMPTY") == "");
  CHECK(h.headers.has("x-empty"));
  CHECK(h.headers.get("X-Api-Key") == "sk-abc");
  CHECK(h.headers.get("x-dup") == "1");
  REQUIRE(h.headers.fields().size() == 6);
  CHECK(h.headers.fields()[0] == Headers::Field{"Host", "example.test:8080"});
  CHECK(h.headers.fields()[5] == Headers::Field{"X-DUP", "2"});
}

TEST_CASE("http parse_head answers a malformed header field line with 400") {
  for (const char* fields : {
           "NoColon\r\n",
           "Host : example\r\n",  // whitespace before the colon
           ": no name\r\n",
           "Bad Name: x\r\n",
           "Host: a\r\n folded continuation\r\n",  // obsolete line folding
           "X-(paren): x\r\n",
       }) {
    CAPTURE(fields);
    CHECK(rejected(head_of("GET / HTTP/1.1", fields)) == 400);
  }
  // A field line without its line end.
  CHECK(rejected("GET / HTTP/1.1\r\nHost: a") == 400);
}

TEST_CASE("http parse_head takes 100 header fields and answers 431 to 101") {
  std::string fields;
  for (int i = 0; i < 100; ++i) fields += "X-F" + std::to_string(i) + ": v\r\n";
  const RequestHead h = parsed(head_of("GET / HTTP/1.1", fields));
  CHECK(h.headers.fields().size() == 100);
  CHECK(h.headers.get("x-f99") == "v");

  fields += "X-F100: v\r\n";
  CHECK(rejected(head_of("GET / HTTP/1.1", fields)) == 431);
}

TEST_CASE("http parse_head answers a head over 64 KiB with 431") {
  const std::string line = "GET / HTTP/1.1";
  const std::string prefix = "X-Big: ";
  // Exactly kMaxHeadBytes: request line, CRLF, field, CRLF, CRLF.
  const std::size_t fill = kMaxHeadBytes - line.size() - 2 - prefix.size() - 2 - 2;
  const std::string at_limit = head_of(line, prefix + std::string(fill, 'a') + "\r\n");
  REQUIRE(at_limit.size() == kMaxHeadBytes);
  CHECK(parsed(at_limit).headers.get("X-Big")->size() == fill);

  const std::string over = head_of(line, prefix + std::string(fill + 1, 'a') + "\r\n");
  CHECK(rejected(over) == 431);
}

// RFC 9110 5.5: a recipient of CR, LF or NUL within a field value MUST reject the message
// or replace them with SP: "X-A: a\nContent-Length: 5" must not reach handlers as one
// value, which another parser in front of dsgw that ends lines at LF would read as two.
TEST_CASE("http parse_head does not pass CR, LF or NUL through inside a field value") {
  for (const std::string& value :
       {std::string("a\nContent-Length: 5"), std::string("a\rb"), std::string("a\0b", 3)}) {
    CAPTURE(value);
    const auto result = parse_head(head_of("GET / HTTP/1.1", "X-A: " + value + "\r\n"), kMaxBody);
    if (const auto* error = std::get_if<ParseError>(&result)) {
      CHECK(error->status == 400);
    } else {
      const std::string_view got = std::get<RequestHead>(result).headers.get("X-A").value_or("");
      CHECK(got.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos);
    }
  }
}

// --- parse_head: connection and expectations ---------------------------------------

TEST_CASE("http parse_head: HTTP/1.1 keeps the connection unless Connection lists close") {
  CHECK(parsed(head_of("GET / HTTP/1.1")).keep_alive);
  CHECK(parsed(head_of("GET / HTTP/1.1", "Connection: keep-alive\r\n")).keep_alive);
  CHECK(parsed(head_of("GET / HTTP/1.1", "Connection: closed\r\n")).keep_alive);
  CHECK_FALSE(parsed(head_of("GET / HTTP/1.1", "Connection: close\r\n")).keep_alive);
  CHECK_FALSE(parsed(head_of("GET / HTTP/1.1", "connection: CLOSE\r\n")).keep_alive);
  CHECK_FALSE(parsed(head_of("GET / HTTP/1.1", "Connection: Upgrade,  close \r\n")).keep_alive);
}

TEST_CASE("http parse_head: HTTP/1.0 closes the connection unless Connection lists keep-alive") {
  CHECK_FALSE(parsed(head_of("GET / HTTP/1.0")).keep_alive);
  CHECK_FALSE(parsed(head_of("GET / HTTP/1.0", "Connection: close\r\n")).keep_alive);
  CHECK_FALSE(parsed(head_of("GET / HTTP/1.0", "Connection: keep-alive-ish\r\n")).keep_alive);
  CHECK(parsed(head_of("GET / HTTP/1.0", "Connection: keep-alive\r\n")).keep_alive);
  CHECK(parsed(head_of("GET / HTTP/1.0", "Connection: Keep-Alive\r\n")).keep_alive);
  CHECK(parsed(head_of("GET / HTTP/1.0", "Connection: TE, keep-alive\r\n")).keep_alive);
}

TEST_CASE("http parse_head notes Expect: 100-continue") {
  CHECK_FALSE(parsed(head_of("POST / HTTP/1.1", "Content-Length: 3\r\n")).expects_continue);
  CHECK(parsed(head_of("POST / HTTP/1.1", "Expect: 100-continue\r\nContent-Length: 3\r\n")).expects_continue);
  CHECK(
      parsed(head_of("POST / HTTP/1.1", "expect:  100-Continue \r\nContent-Length: 3\r\n")).expects_continue);
  CHECK_FALSE(parsed(head_of("POST / HTTP/1.1", "Expect: 200-ok\r\nContent-Length: 3\r\n")).expects_continue);
}

// RFC 9110 10.1.1: "A server that receives a 100-continue expectation in an HTTP/1.0
// request MUST ignore that expectation."
TEST_CASE("http parse_head ignores Expect: 100-continue from an HTTP/1.0 client") {
  CHECK_FALSE(
      parsed(head_of("POST / HTTP/1.0", "Expect: 100-continue\r\nContent-Length: 3\r\n")).expects_continue);
}

// --- parse_head: body framing ---------------------------------------------------------

TEST_CASE("http parse_head reads Content-Length") {
  RequestHead h = parsed(head_of("GET / HTTP/1.1"));
  CHECK(h.framing == Framing::kNone);
  CHECK(h.content_length == 0);

  h = parsed(head_of("POST / HTTP/1.1", "Content-Length: 42\r\n"));
  CHECK(h.framing == Framing::kLength);
  CHECK(h.content_length == 42);

  h = parsed(head_of("POST / HTTP/1.1", "content-length:   7 \t\r\n"));
  CHECK(h.framing == Framing::kLength);
  CHECK(h.content_length == 7);

  h = parsed(head_of("POST / HTTP/1.1", "Content-Length: 0\r\n"));
  CHECK(h.framing == Framing::kNone);
  CHECK(h.content_length == 0);

  // Repeats of the same value are one length.
  h = parsed(head_of("POST / HTTP/1.1", "Content-Length: 12\r\nX-A: b\r\ncontent-length: 12\r\n"));
  CHECK(h.framing == Framing::kLength);
  CHECK(h.content_length == 12);
}

TEST_CASE("http parse_head answers a malformed or conflicting Content-Length with 400") {
  for (const char* value :
       {"", "abc", "-1", "+5", "5x", "1 2", "0x10", "5, 5", "3.0", "99999999999999999999999"}) {
    CAPTURE(value);
    CHECK(rejected(head_of("POST / HTTP/1.1", std::string("Content-Length: ") + value + "\r\n")) == 400);
  }
  CHECK(rejected(head_of("POST / HTTP/1.1", "Content-Length: 5\r\nContent-Length: 6\r\n")) == 400);
  CHECK(rejected(head_of("POST / HTTP/1.1", "Content-Length: 5\r\ncontent-length: 05\r\n")) == 400);
}

TEST_CASE("http parse_head answers a Content-Length over max_body with 413") {
  const RequestHead h = parsed(head_of("POST / HTTP/1.1", "Content-Length: 1000\r\n"), 1000);
  CHECK(h.content_length == 1000);
  CHECK(rejected(head_of("POST / HTTP/1.1", "Content-Length: 1001\r\n"), 1000) == 413);
  CHECK(rejected(head_of("POST / HTTP/1.1", "Content-Length: 18446744073709551615\r\n"), kMaxBody) == 413);
  CHECK(rejected(head_of("POST / HTTP/1.1", "Content-Length: 1\r\n"), 0) == 413);
}

TEST_CASE("http parse_head reads Transfer-Encoding: chunked and refuses other codings") {
  RequestHead h = parsed(head_of("POST / HTTP/1.1", "Transfer-Encoding: chunked\r\n"));
  CHECK(h.framing == Framing::kChunked);
  CHECK(h.content_length == 0);
  CHECK(parsed(head_of("POST / HTTP/1.1", "transfer-encoding:  Chunked \r\n")).framing == Framing::kChunked);

  CHECK(rejected(head_of("POST / HTTP/1.1", "Transfer-Encoding: gzip\r\n")) == 501);
  CHECK(rejected(head_of("POST / HTTP/1.1", "Transfer-Encoding: gzip, chunked\r\n")) == 501);
  CHECK(rejected(head_of("POST / HTTP/1.1", "Transfer-Encoding: identity\r\n")) == 501);
}

TEST_CASE("http parse_head answers Transfer-Encoding together with Content-Length with 400") {
  CHECK(rejected(head_of("POST / HTTP/1.1", "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n")) == 400);
  CHECK(rejected(head_of("POST / HTTP/1.1", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")) == 400);
}

// RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 request means faulty framing.
TEST_CASE("http parse_head answers Transfer-Encoding from an HTTP/1.0 client with 400") {
  CHECK(rejected(head_of("POST / HTTP/1.0", "Transfer-Encoding: chunked\r\n")) == 400);
}

// Two Transfer-Encoding fields make one list (RFC 9110 5.3): "chunked" then "gzip" is
// "chunked, gzip", where chunked is not the final coding (RFC 9112 6.3). Reading the body
// as chunked would be a request-smuggling ambiguity with a proxy in front.
TEST_CASE("http parse_head reads every Transfer-Encoding field, not just the first") {
  const auto result = parse_head(
      head_of("POST / HTTP/1.1", "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"), kMaxBody);
  const auto* error = std::get_if<ParseError>(&result);
  REQUIRE_MESSAGE(error != nullptr, "read as chunked");
  CHECK((error->status == 400 || error->status == 501));
}

// --- ChunkedDecoder ----------------------------------------------------------------------

TEST_CASE("http ChunkedDecoder decodes a whole body given at once and stops at its end") {
  const std::string body = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  const Decoded d = decode(body + "GET /next HTTP/1.1\r\n");
  CHECK(d.error_status == 0);
  CHECK(d.done);
  CHECK(d.body == "hello world");
  CHECK(d.used == body.size());  // the next request stays unread
}

TEST_CASE("http ChunkedDecoder decodes a body fed byte by byte") {
  const std::string wire = "3\r\nabc\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n1\r\n\n\r\n0\r\n\r\n";
  ChunkedDecoder decoder(kMaxBody);
  std::string pending;
  std::string body;
  std::size_t consumed = 0;
  for (char c : wire) {
    CHECK_FALSE(decoder.done());
    pending.push_back(c);
    const std::size_t used = decoder.feed(pending, body);
    REQUIRE(used <= pending.size());
    pending.erase(0, used);
    consumed += used;
    REQUIRE_FALSE(decoder.error().has_value());
  }
  CHECK(decoder.done());
  CHECK(pending.empty());
  CHECK(consumed == wire.size());
  CHECK(body == "abcabcdefghijklmnopqrstuvwxyz\n");
}

TEST_CASE("http ChunkedDecoder ignores chunk extensions and accepts hex sizes in either case") {
  const Decoded d = decode("a;name=value\r\n0123456789\r\nB ; x=\"y\"\r\nhello world\r\n0;last\r\n\r\n");
  CHECK(d.error_status == 0);
  CHECK(d.done);
  CHECK(d.body == "0123456789hello world");
}

TEST_CASE("http ChunkedDecoder reads and drops trailer fields") {
  const std::string wire = "4\r\ndata\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n";
  const Decoded d = decode(wire);
  CHECK(d.error_status == 0);
  CHECK(d.done);
  CHECK(d.used == wire.size());
  CHECK(d.body == "data");
}

TEST_CASE("http ChunkedDecoder answers trailer fields over 64 KiB with 431") {
  std::string wire = "4\r\ndata\r\n0\r\n";
  while (wire.size() < (70 << 10)) wire += "X-Pad: " + std::string(1000, 'p') + "\r\n";
  const Decoded d = decode(wire + "\r\n");
  CHECK(d.error_status == 431);
  CHECK_FALSE(d.done);
}

TEST_CASE("http ChunkedDecoder answers a malformed chunk with 400") {
  for (const char* wire : {
           "zz\r\nhello\r\n0\r\n\r\n",
           "\r\nhello\r\n0\r\n\r\n",      // no size
           ";ext\r\nhello\r\n0\r\n\r\n",  // only an extension
           "-5\r\nhello\r\n0\r\n\r\n",    // a sign
           "0x5\r\nhello\r\n0\r\n\r\n",   // no prefix either
           "5 5\r\nhello\r\n0\r\n\r\n",   // two numbers
           "5\r\nhelloXY\r\n0\r\n\r\n",   // data longer than its size
           "5\r\nhello\n\r\n0\r\n\r\n",   // a bare LF after the data
       }) {
    CAPTURE(wire);
    const Decoded d = decode(wire);
    CHECK(d.error_status == 400);
    CHECK_FALSE(d.done);
  }
  // A size line that never ends is not buffered without bound.
  const Decoded endless = decode(std::string(5000, '1'));
  CHECK(endless.error_status == 400);
  CHECK(endless.used == 0);
}

TEST_CASE("http ChunkedDecoder answers a body over its limit with 413") {
  Decoded d = decode("a\r\n0123456789\r\n0\r\n\r\n", 10);
  CHECK(d.error_status == 0);
  CHECK(d.done);
  CHECK(d.body == "0123456789");

  d = decode("b\r\n0123456789a\r\n0\r\n\r\n", 10);
  CHECK(d.error_status == 413);
  CHECK(d.body.empty());

  d = decode("6\r\n012345\r\n5\r\n67890\r\n0\r\n\r\n", 10);  // the sum is over
  CHECK(d.error_status == 413);
  CHECK(d.body == "012345");

  d = decode("ffffffffffffffff\r\n", 10);
  CHECK(d.error_status == 413);
}

TEST_CASE("http ChunkedDecoder consumes only whole lines and the data that arrived") {
  ChunkedDecoder decoder(kMaxBody);
  std::string body;
  CHECK(decoder.feed("5", body) == 0);
  CHECK(decoder.feed("5\r", body) == 0);
  CHECK(decoder.feed("5;ext=", body) == 0);
  CHECK(decoder.feed("5\r\nhel", body) == 6);  // the size line and the data so far
  CHECK(body == "hel");
  CHECK(decoder.feed("lo\r", body) == 2);  // the data, not half a line end
  CHECK(body == "hello");
  CHECK(decoder.feed("\r", body) == 0);
  CHECK(decoder.feed("\r\n0\r\nX-T", body) == 5);  // line end, last chunk; the trailer field waits
  CHECK_FALSE(decoder.done());
  CHECK(decoder.feed("X-T: 1\r\n", body) == 8);
  CHECK_FALSE(decoder.done());
  CHECK(decoder.feed("\r", body) == 0);
  CHECK(decoder.feed("\r\n", body) == 2);
  CHECK(decoder.done());
  CHECK_FALSE(decoder.error().has_value());
  CHECK(body == "hello");
  CHECK(decoder.feed("more", body) == 0);  // nothing after the end
}
