#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dsgw {

struct HostPort {
  std::string host;  // without brackets
  int port = 0;
};

// Parses "host:port", "[v6]:port". Port 0 asks the OS for a free one.
std::optional<HostPort> parse_listen_address(std::string_view text);

// 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(std::string_view host);

struct HttpUrl {
  bool tls = false;      // https
  std::string host;      // without brackets
  int port = 0;          // explicit or the scheme's default
  std::string path;      // without a trailing slash; "" for the root
  // "https://host:port", what an HTTP client library takes.
  std::string origin() const;
};

// Parses an http:// or https:// URL with a host, an optional port and path.
// Query strings and fragments are rejected.
std::optional<HttpUrl> parse_http_url(std::string_view text);

}  // namespace dsgw
