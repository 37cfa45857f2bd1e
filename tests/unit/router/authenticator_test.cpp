#include "router/authenticator.h"

#include <doctest/doctest.h>

#include "common/sha256.h"

using dsgw::ErrorCode;
using dsgw::router::Authenticator;

TEST_CASE("an Authenticator without keys lets everyone in as anonymous") {
  Authenticator auth;
  CHECK(auth.open());
  for (const char* credential : {"", "anything", "sk-whatever"}) {
    auto r = auth.authenticate(credential);
    REQUIRE(r.has_value());
    CHECK(*r == "anonymous");
  }
}

TEST_CASE("an Authenticator with keys maps each key to its tenant") {
  Authenticator auth({{dsgw::sha256_hex("sk-alpha"), "team-a"}, {dsgw::sha256_hex("sk-beta"), "team-b"}});
  CHECK_FALSE(auth.open());

  auto a = auth.authenticate("sk-alpha");
  REQUIRE(a.has_value());
  CHECK(*a == "team-a");
  auto b = auth.authenticate("sk-beta");
  REQUIRE(b.has_value());
  CHECK(*b == "team-b");
}

TEST_CASE("an Authenticator with keys refuses missing and wrong keys") {
  Authenticator auth({{dsgw::sha256_hex("sk-alpha"), "team-a"}});

  auto missing = auth.authenticate("");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == ErrorCode::kUnauthenticated);
  CHECK(missing.error().message.find("missing") != std::string::npos);

  for (const char* wrong : {"sk-alph", "sk-alpha ", "SK-ALPHA", "team-a"}) {
    CAPTURE(wrong);
    auto r = auth.authenticate(wrong);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == ErrorCode::kUnauthenticated);
  }
  // The digest itself is not a key.
  auto digest = auth.authenticate(dsgw::sha256_hex("sk-alpha"));
  CHECK_FALSE(digest.has_value());
}
