// Reading HTTP/1.1 messages, apart from the socket: request heads (request
// line, header fields, the body's framing), header fields alone (for the
// client's responses), chunked bodies. Errors carry the HTTP status a server
// answers before it closes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/http/message.h"

namespace dsgw::http {

struct ParseError {
  int status;  // 400, 411, 413, 431, 501, 505
  std::string message;
};

struct RequestHead {
  enum class Framing { kNone, kLength, kChunked };

  std::string method;
  std::string path;
  std::string query;
  bool http_1_0 = false;
  Headers headers;
  bool keep_alive = true;        // the connection stays open after the answer
  bool expects_continue = false; // "Expect: 100-continue"
  Framing framing = Framing::kNone;
  std::uint64_t content_length = 0;
};

inline constexpr std::size_t kMaxHeadBytes = 64 << 10;
inline constexpr std::size_t kMaxHeaderFields = 100;

// Header field lines ("Name: value\r\n" each, up to the blank line or the
// end of `lines`), appended to `out`.
std::optional<ParseError> parse_fields(std::string_view lines, Headers& out);

// Whether a comma-separated header value lists `token` (Connection: close).
bool lists_token(std::string_view value, std::string_view token);

// `head`: everything up to and including the blank line ("\r\n\r\n").
// A declared body over `max_body` bytes is a 413.
std::variant<RequestHead, ParseError> parse_head(std::string_view head, std::uint64_t max_body);

// Decodes a chunked body as its bytes arrive.
class ChunkedDecoder {
 public:
  explicit ChunkedDecoder(std::uint64_t max_body) : max_body_(max_body) {}

  // Consumes what it can of `in`, appending the data to `body`; returns how
  // many bytes it consumed (an incomplete line stays for the next call).
  std::size_t feed(std::string_view in, std::string& body);
  // The last chunk and the trailer fields are through.
  bool done() const { return state_ == State::kDone; }
  const std::optional<ParseError>& error() const { return error_; }

 private:
  enum class State { kSize, kData, kDataEnd, kTrailer, kDone };

  std::uint64_t max_body_;
  State state_ = State::kSize;
  std::uint64_t remaining_ = 0;
  std::size_t trailer_bytes_ = 0;
  std::optional<ParseError> error_;
};

}  // namespace dsgw::http
