#include <doctest/doctest.h>

#include "backends/local/tokenizer/byte_level.h"
#include "backends/local/tokenizer/utf8_codec.h"

namespace dsgw::local {
namespace {

TEST_CASE("first_invalid finds the offset of the first bad sequence") {
  CHECK_FALSE(utf8::first_invalid("plain ü 中 😀").has_value());
  CHECK(utf8::first_invalid("ab\x80") == 2);              // stray continuation
  CHECK(utf8::first_invalid("\xC1\xBF") == 0);            // overlong
  CHECK(utf8::first_invalid("\xE0\x80\xAF") == 0);        // overlong
  CHECK(utf8::first_invalid("a\xED\xB0\x80") == 1);       // surrogate
  CHECK(utf8::first_invalid("\xF4\x90\x80\x80") == 0);    // past U+10FFFF
  CHECK(utf8::first_invalid("ok\xE4\xB8") == 2);          // truncated
  CHECK(utf8::first_invalid(std::string_view("a\0b", 3)) == std::nullopt);
}

TEST_CASE("append_lossy replaces maximal invalid subparts with U+FFFD") {
  auto lossy = [](std::string_view s) {
    std::string out;
    utf8::append_lossy(out, s);
    return out;
  };
  CHECK(lossy("abc") == "abc");
  CHECK(lossy("a\xE4\xB8z") == "a\xEF\xBF\xBDz");                     // one subpart
  CHECK(lossy("\xFF\xFE") == "\xEF\xBF\xBD\xEF\xBF\xBD");             // two bad bytes
  CHECK(lossy("\xF0\x9F\x98") == "\xEF\xBF\xBD");
  CHECK(utf8::stable_prefix_length("ab\xF0\x9F\x98") == 2);
  CHECK(utf8::stable_prefix_length("ab\xF0\x9F\x98\x80") == 6);
  CHECK(utf8::stable_prefix_length("ab\xFF") == 3);  // never valid: nothing to wait for
}

TEST_CASE("the byte-level alphabet is GPT-2's and round-trips all bytes") {
  CHECK(byte_to_code_point(' ') == 0x120);   // Ġ
  CHECK(byte_to_code_point('\n') == 0x10A);  // Ċ
  CHECK(byte_to_code_point('a') == 'a');
  CHECK(byte_to_code_point(0xAD) == 0x143);  // soft hyphen is not printable
  CHECK(byte_to_code_point(0xE9) == 0xE9);
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string spelt;
  byte_level_encode(all, spelt);
  CHECK(byte_level_decode(spelt) == all);
  CHECK(byte_level_decode("Ġhello") == " hello");
  CHECK_FALSE(byte_level_decode("<｜User｜>").has_value());
}

}  // namespace
}  // namespace dsgw::local
