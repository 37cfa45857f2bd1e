#include "common/http/parser.h"

#include <algorithm>
#include <array>
#include <charconv>

namespace dsgw::http {
namespace {

constexpr std::string_view kCrlf = "\r\n";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 token characters, for methods and field names.
constexpr std::array<bool, 256> kTokenChars = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = t[static_cast<std::size_t>(c - 'a' + 'A')] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return kTokenChars[static_cast<unsigned char>(c)]; });
}

ParseError bad(std::string message) { return ParseError{400, std::move(message)}; }

std::optional<ParseError> parse_request_line(std::string_view line, RequestHead& head, int& minor) {
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return bad("malformed request line");
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) return bad("malformed request method");
  const bool visible = std::all_of(target.begin(), target.end(), [](char c) {
    return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) != 0x7F;
  });
  if (target.empty() || target.front() != '/' || !visible) return bad("malformed request target");
  if (version == "HTTP/1.1") {
    minor = 1;
  } else if (version == "HTTP/1.0") {
    minor = 0;
  } else if (version.starts_with("HTTP/")) {
    return ParseError{505, "HTTP version " + std::string(version.substr(5)) + " is not supported"};
  } else {
    return bad("malformed HTTP version");
  }
  head.method = method;
  const auto q = target.find('?');
  head.path = target.substr(0, q);
  if (q != std::string_view::npos) head.query = target.substr(q + 1);
  return std::nullopt;
}

std::optional<ParseError> apply_framing(RequestHead& head, std::uint64_t max_body) {
  const auto encoding = head.headers.get("Transfer-Encoding");
  const auto length = head.headers.get("Content-Length");
  if (encoding) {
    if (head.http_1_0) return bad("Transfer-Encoding in an HTTP/1.0 request");  // RFC 9112 6.1
    if (length) return bad("both Transfer-Encoding and Content-Length are set");
    // Several fields make one list (RFC 9110 5.3): only a lone "chunked" is read.
    int fields = 0;
    for (const auto& field : head.headers.fields()) fields += equals_ignoring_case(field.first, "Transfer-Encoding") ? 1 : 0;
    if (fields > 1) return ParseError{501, "Transfer-Encoding lists more than chunked"};
    if (!equals_ignoring_case(trim(*encoding), "chunked")) {
      return ParseError{501, "Transfer-Encoding " + std::string(*encoding) + " is not supported"};
    }
    head.framing = RequestHead::Framing::kChunked;
    return std::nullopt;
  }
  if (!length) return std::nullopt;
  const std::string_view digits = trim(*length);
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
    return bad("malformed Content-Length");
  }
  for (const auto& [name, value] : head.headers.fields()) {
    if (equals_ignoring_case(name, "Content-Length") && trim(value) != digits) return bad("conflicting Content-Length fields");
  }
  if (n > max_body) return ParseError{413, "the request body exceeds the configured limit"};
  head.framing = n > 0 ? RequestHead::Framing::kLength : RequestHead::Framing::kNone;
  head.content_length = n;
  return std::nullopt;
}

}  // namespace

bool lists_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    if (equals_ignoring_case(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

std::optional<ParseError> parse_fields(std::string_view text, Headers& out) {
  while (!text.empty() && !text.starts_with(kCrlf)) {
    const auto eol = text.find(kCrlf);
    if (eol == std::string_view::npos) return bad("malformed header field");
    const std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol + 2);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
      return bad("malformed header field");
    }
    if (out.fields().size() == kMaxHeaderFields) return ParseError{431, "more than 100 header fields"};
    // CR, LF or NUL inside a value must be refused (RFC 9110 5.5).
    if (line.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
      return bad("a header field holds CR, LF or NUL");
    }
    out.add(std::string(line.substr(0, colon)), std::string(trim(line.substr(colon + 1))));
  }
  return std::nullopt;
}

std::variant<RequestHead, ParseError> parse_head(std::string_view text, std::uint64_t max_body) {
  if (text.size() > kMaxHeadBytes) return ParseError{431, "the request head exceeds 64 KiB"};
  RequestHead head;
  int minor = 1;
  // A robust server ignores empty lines before the request line (RFC 9112 2.2).
  while (text.starts_with(kCrlf)) text.remove_prefix(2);
  auto eol = text.find(kCrlf);
  if (eol == std::string_view::npos) return bad("malformed request head");
  if (auto e = parse_request_line(text.substr(0, eol), head, minor)) return *e;
  text.remove_prefix(eol + 2);
  if (auto e = parse_fields(text, head.headers)) return *e;
  const auto connection = head.headers.get("Connection");
  head.keep_alive = minor == 1 ? !(connection && lists_token(*connection, "close"))
                               : connection && lists_token(*connection, "keep-alive");
  head.http_1_0 = minor == 0;
  // An HTTP/1.0 client cannot take a 100 (RFC 9110 10.1.1).
  if (const auto expect = head.headers.get("Expect"); expect && minor == 1) {
    head.expects_continue = equals_ignoring_case(trim(*expect), "100-continue");
  }
  if (auto e = apply_framing(head, max_body)) return *e;
  return head;
}

std::size_t ChunkedDecoder::feed(std::string_view in, std::string& body) {
  std::size_t used = 0;
  while (used < in.size() && state_ != State::kDone && !error_) {
    const std::string_view rest = in.substr(used);
    if (state_ == State::kData) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, rest.size()));
      body.append(rest.data(), n);
      used += n;
      remaining_ -= n;
      if (remaining_ == 0) state_ = State::kDataEnd;
      continue;
    }
    const auto eol = rest.find(kCrlf);
    if (eol == std::string_view::npos) {
      if (rest.size() > 4096) error_ = bad("malformed chunked body");
      break;
    }
    const std::string_view line = rest.substr(0, eol);
    used += eol + 2;
    switch (state_) {
      case State::kSize: {
        const std::string_view size = trim(line.substr(0, line.find(';')));
        std::uint64_t n = 0;
        const auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), n, 16);
        if (size.empty() || ec != std::errc() || end != size.data() + size.size()) {
          error_ = bad("malformed chunk size");
        } else if (n > max_body_ || body.size() + n > max_body_) {
          error_ = ParseError{413, "the request body exceeds the configured limit"};
        } else {
          remaining_ = n;
          state_ = n == 0 ? State::kTrailer : State::kData;
        }
        break;
      }
      case State::kDataEnd:
        if (!line.empty()) error_ = bad("malformed chunked body");
        state_ = State::kSize;
        break;
      case State::kTrailer:  // trailer fields are read and ignored, up to the head's limit
        trailer_bytes_ += line.size() + 2;
        if (trailer_bytes_ > kMaxHeadBytes) error_ = ParseError{431, "the chunked body's trailer exceeds 64 KiB"};
        if (line.empty()) state_ = State::kDone;
        break;
      case State::kData:
      case State::kDone:
        break;
    }
  }
  return used;
}

}  // namespace dsgw::http
