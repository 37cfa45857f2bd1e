#include "common/json_escape.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <random>
#include <string>

#include "common/utf8.h"

namespace {

std::string escaped(std::string_view text) {
  std::string out;
  dsgw::append_json_string(out, text);
  return out;
}

// What a strict JSON parser reads back.
std::string decoded(std::string_view text) {
  return nlohmann::json::parse(escaped(text)).get<std::string>();
}

}  // namespace

TEST_CASE("append_json_string quotes and escapes the JSON specials") {
  CHECK(escaped("") == "\"\"");
  CHECK(escaped("plain") == "\"plain\"");
  CHECK(escaped("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(escaped("l1\nl2\r\t") == "\"l1\\nl2\\r\\t\"");
  CHECK(escaped("/") == "\"/\"");
}

TEST_CASE("append_json_string writes control characters as \\u00XX") {
  CHECK(escaped(std::string_view("a\0b", 3)) == "\"a\\u0000b\"");
  CHECK(escaped("\x01") == "\"\\u0001\"");
  CHECK(escaped("\x1f") == "\"\\u001f\"");
  CHECK(escaped("\b\f") == "\"\\u0008\\u000c\"");
  CHECK(escaped("\x7f") == "\"\\u007f\"");
  CHECK(decoded(std::string_view("\0\x01\x1f", 3)) == std::string("\0\x01\x1f", 3));
}

TEST_CASE("append_json_string appends to what is already there") {
  std::string out = "{\"k\":";
  dsgw::append_json_string(out, "v");
  out += "}";
  CHECK(out == "{\"k\":\"v\"}");
}

TEST_CASE("append_json_string copies valid UTF-8 unchanged") {
  const std::string text = "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF";
  CHECK(escaped(text) == "\"" + text + "\"");
}

TEST_CASE("append_json_string replaces each invalid byte with \\ufffd") {
  CHECK(escaped("\xFF") == "\"\\ufffd\"");
  CHECK(escaped("a\xC3") == "\"a\\ufffd\"");            // truncated at the end
  CHECK(escaped("\xC3(") == "\"\\ufffd(\"");             // lead without continuation
  CHECK(escaped("\x80x") == "\"\\ufffdx\"");             // stray continuation
  CHECK(escaped("\xC0\x80") == "\"\\ufffd\\ufffd\"");    // overlong NUL
  CHECK(escaped("\xED\xA0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");  // surrogate
  CHECK(escaped("\xF4\x90\x80\x80") == "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // past U+10FFFF
  // A bad byte does not swallow the good character that follows it.
  CHECK(escaped("\xFF\xC3\xA9") == "\"\\ufffd\xC3\xA9\"");
  CHECK(decoded("x\xFFy") == "x\xEF\xBF\xBDy");
}

TEST_CASE("append_json_string always yields JSON that round-trips valid text") {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 24);
  for (int i = 0; i < 2000; ++i) {
    std::string text;
    const int n = length(rng);
    for (int k = 0; k < n; ++k) text.push_back(static_cast<char>(byte(rng)));
    CAPTURE(i);
    const std::string json_text = escaped(text);
    CHECK(dsgw::utf8::is_valid(json_text));
    std::string back;
    REQUIRE_NOTHROW(back = nlohmann::json::parse(json_text).get<std::string>());
    if (dsgw::utf8::is_valid(text)) CHECK(back == text);
  }
}
