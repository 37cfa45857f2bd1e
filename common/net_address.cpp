#include "common/net_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>

namespace dsgw {

std::optional<HostPort> parse_listen_address(std::string_view text) {
  HostPort out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    out.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    out.host = std::string(text.substr(0, colon));
    if (out.host.find(':') != std::string::npos) return std::nullopt;  // v6 needs brackets
    port_text = text.substr(colon + 1);
  }
  if (out.host.empty() || port_text.empty()) return std::nullopt;
  const auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), out.port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || out.port < 0 ||
      out.port > 65535) {
    return std::nullopt;
  }
  return out;
}

std::string HttpUrl::origin() const {
  const bool v6 = host.find(':') != std::string::npos;
  return std::string(tls ? "https://" : "http://") + (v6 ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

std::optional<HttpUrl> parse_http_url(std::string_view text) {
  HttpUrl url;
  if (text.rfind("https://", 0) == 0) {
    url.tls = true;
    text.remove_prefix(8);
  } else if (text.rfind("http://", 0) == 0) {
    text.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  if (text.find_first_of("?#@ ") != std::string_view::npos) return std::nullopt;
  const size_t slash = text.find('/');
  const std::string_view authority = text.substr(0, slash);
  url.path = slash == std::string_view::npos ? "" : std::string(text.substr(slash));
  while (!url.path.empty() && url.path.back() == '/') url.path.pop_back();
  const bool has_port = !authority.empty() && authority.back() != ']' &&
                        authority.find(':') != std::string_view::npos;
  if (has_port) {
    auto hp = parse_listen_address(authority);
    if (!hp || hp->port == 0) return std::nullopt;
    url.host = hp->host;
    url.port = hp->port;
  } else {
    std::string_view host = authority;
    if (!host.empty() && host.front() == '[') {
      if (host.back() != ']') return std::nullopt;
      host = host.substr(1, host.size() - 2);
    }
    url.host = std::string(host);
    url.port = url.tls ? 443 : 80;
  }
  if (url.host.empty()) return std::nullopt;
  return url;
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  const std::string text(host);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, text.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

}  // namespace dsgw
