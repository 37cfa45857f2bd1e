#include "backends/local/model/sha384.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <random>

#include "backends/local/model/sha384_manifest.h"
#include "tests/unit/local/model/model_test_support.h"

namespace dsgw::local {
namespace {

using testing::TempDir;

TEST_CASE("FIPS 180-4 test vectors") {
  CHECK(sha384_hex("") ==
        "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b");
  CHECK(sha384_hex("abc") ==
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
  CHECK(sha384_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrl"
                   "mnopqrsmnopqrst"
                   "nopqrstu") ==
        "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039");
  Sha384 million;
  const std::string a(1000, 'a');
  for (int i = 0; i < 1000; ++i) million.update(a.data(), a.size());
  CHECK(million.finish_hex() ==
        "9d0e1809716474cb086e834e310a4a1ced149e9c00f248527972cec5704c2a5b07b8b3dc38ecc4ebae97ddd87f3d8985");
}

TEST_CASE("split updates give the same digest") {
  std::mt19937 rng(7);
  std::string data(1000, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  const std::string whole = sha384_hex(data);
  for (std::size_t step : {1u, 7u, 111u, 112u, 127u, 128u, 129u, 500u}) {
    Sha384 h;
    for (std::size_t i = 0; i < data.size(); i += step)
      h.update(data.data() + i, std::min(step, data.size() - i));
    CHECK(h.finish_hex() == whole);
  }
}

// Against coreutils' sha384sum, around every padding boundary.
TEST_CASE("agrees with sha384sum") {
  TempDir dir;
  std::mt19937 rng(11);
  for (std::size_t size : {0u, 1u, 111u, 112u, 113u, 127u, 128u, 129u, 239u, 240u, 256u, 4096u, 100003u}) {
    CAPTURE(size);
    std::string data(size, '\0');
    for (auto& c : data) c = static_cast<char>(rng());
    const auto path = dir.path() / "f" += std::to_string(size);
    testing::write_text(path, data);
    const std::string cmd = "sha384sum '" + path.string() + "'";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[256] = {};
    const std::size_t n = fread(buf, 1, sizeof buf - 1, p);
    REQUIRE(pclose(p) == 0);
    REQUIRE(n >= 96);
    CHECK(sha384_file(path).value() == std::string(buf, 96));
    CHECK(sha384_hex(data) == std::string(buf, 96));
  }
}

TEST_CASE("manifest parsing") {
  const std::string h(96, 'A');
  auto ok = parse_sha384_manifest(h + "  model.safetensors\n" + h + " *config.json\r\n\n# comment\n", "SUMS");
  REQUIRE(ok.has_value());
  REQUIRE(ok->size() == 2);
  CHECK((*ok)[0].file == "model.safetensors");
  CHECK((*ok)[0].hex_digest == std::string(96, 'a'));
  CHECK((*ok)[1].file == "config.json");
  auto bad = [](const std::string& text) {
    auto r = parse_sha384_manifest(text, "SUMS");
    REQUIRE_FALSE(r.has_value());
    return r.error().message;
  };
  CHECK(bad(h + " model.safetensors\n").find("SUMS:1") != std::string::npos);
  std::string second_line_bad = "\n";  // built up: GCC 12's -Wrestrict misfires on "x" + std::string
  second_line_bad += std::string(95, 'a');
  second_line_bad += "g  x\n";
  CHECK(bad(second_line_bad).find("SUMS:2") != std::string::npos);
  CHECK(bad(h + "  ../x\n").find("../x") != std::string::npos);
  CHECK(bad(h + "  /etc/passwd\n").find("/etc/passwd") != std::string::npos);
  CHECK(bad("\\" + h + "  a\\nb\n").find("escaped") != std::string::npos);
}

TEST_CASE("verification: absent manifest, match, mismatch") {
  TempDir dir;
  CHECK(verify_sha384_manifest(dir.path()).value() == 0);
  testing::write_text(dir / "a", "hello");
  testing::write_text(dir / kSha384Manifest, sha384_hex("hello") + "  a\n");
  CHECK(verify_sha384_manifest(dir.path()).value() == 1);
  testing::write_text(dir / "a", "hellO");
  auto r = verify_sha384_manifest(dir.path());
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("mismatch") != std::string::npos);
  CHECK(r.error().message.find((dir / "a").string()) != std::string::npos);
}

}  // namespace
}  // namespace dsgw::local
