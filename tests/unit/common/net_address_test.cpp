#include "common/net_address.h"

#include <doctest/doctest.h>

using dsgw::is_loopback_host;
using dsgw::parse_http_url;
using dsgw::parse_listen_address;

TEST_CASE("parse_listen_address reads IPv4, names and bracketed IPv6") {
  auto a = parse_listen_address("127.0.0.1:8080");
  REQUIRE(a.has_value());
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 8080);

  auto b = parse_listen_address("[::1]:9000");
  REQUIRE(b.has_value());
  CHECK(b->host == "::1");
  CHECK(b->port == 9000);

  auto c = parse_listen_address("localhost:0");  // 0: any free port
  REQUIRE(c.has_value());
  CHECK(c->host == "localhost");
  CHECK(c->port == 0);

  auto d = parse_listen_address("0.0.0.0:65535");
  REQUIRE(d.has_value());
  CHECK(d->port == 65535);
}

TEST_CASE("parse_listen_address rejects bad hosts and ports") {
  for (const char* bad : {"", "host", "host:", ":8080", "host:65536", "host:-1", "host:80x",
                          "host: 80", "host:+80", "::1:8080", "[::1]8080", "[::1]", "[::1]:",
                          "[]:80", "[::1:80", "host:99999999999"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_listen_address(bad).has_value());
  }
}

TEST_CASE("parse_http_url reads scheme, host, port and path") {
  auto u = parse_http_url("https://api.deepseek.com/v1");
  REQUIRE(u.has_value());
  CHECK(u->tls);
  CHECK(u->host == "api.deepseek.com");
  CHECK(u->port == 443);
  CHECK(u->path == "/v1");
  CHECK(u->origin() == "https://api.deepseek.com:443");

  auto plain = parse_http_url("http://example.com");
  REQUIRE(plain.has_value());
  CHECK_FALSE(plain->tls);
  CHECK(plain->port == 80);
  CHECK(plain->path == "");
  CHECK(plain->origin() == "http://example.com:80");

  auto port = parse_http_url("http://127.0.0.1:8000/v1/");
  REQUIRE(port.has_value());
  CHECK(port->host == "127.0.0.1");
  CHECK(port->port == 8000);
  CHECK(port->path == "/v1");  // trailing slash dropped

  auto root = parse_http_url("http://h:1/");
  REQUIRE(root.has_value());
  CHECK(root->path == "");

  auto deep = parse_http_url("https://h/a/b/c");
  REQUIRE(deep.has_value());
  CHECK(deep->path == "/a/b/c");
}

TEST_CASE("parse_http_url handles IPv6 hosts with and without a port") {
  auto a = parse_http_url("http://[::1]:9000/x");
  REQUIRE(a.has_value());
  CHECK(a->host == "::1");
  CHECK(a->port == 9000);
  CHECK(a->path == "/x");
  CHECK(a->origin() == "http://[::1]:9000");

  auto b = parse_http_url("https://[2001:db8::1]/v1");
  REQUIRE(b.has_value());
  CHECK(b->host == "2001:db8::1");
  CHECK(b->port == 443);
  CHECK(b->origin() == "https://[2001:db8::1]:443");
}

TEST_CASE("parse_http_url rejects other schemes, queries and empty hosts") {
  for (const char* bad : {"ftp://host/x", "example.com", "//example.com", "http:/host",
                          "http://host/v1?x=1", "http://host?x", "http://host/#frag",
                          "http://user@host", "http://user:pw@host/v1", "http://", "https://",
                          "http:///v1", "http://:80", "http://:80/v1", "http://host:0",
                          "http://host:99999", "http://host:abc", "http://host:/v1",
                          "http://[::1", "http://[::1]x", "http://a:b:c", "http://ho st/"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_http_url(bad).has_value());
  }
}

TEST_CASE("is_loopback_host knows 127/8, ::1 and localhost") {
  CHECK(is_loopback_host("127.0.0.1"));
  CHECK(is_loopback_host("127.1.2.3"));
  CHECK(is_loopback_host("::1"));
  CHECK(is_loopback_host("localhost"));
  CHECK_FALSE(is_loopback_host("0.0.0.0"));
  CHECK_FALSE(is_loopback_host("::"));
  CHECK_FALSE(is_loopback_host("192.168.1.10"));
  CHECK_FALSE(is_loopback_host("128.0.0.1"));
  CHECK_FALSE(is_loopback_host("example.com"));
  CHECK_FALSE(is_loopback_host(""));
}

// The listen address is resolved by name, so a DNS name that merely starts
// with "127." must not pass the "non-loopback listen needs [[api_key]]" check.
TEST_CASE("is_loopback_host does not take DNS names that start with 127. for loopback") {
  CHECK_FALSE(is_loopback_host("127.example.com"));
  CHECK_FALSE(is_loopback_host("127.0.0.1.nip.io"));
}
