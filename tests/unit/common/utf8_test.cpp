#include "common/utf8.h"

#include <doctest/doctest.h>

#include <string>

using dsgw::utf8::complete_prefix_length;
using dsgw::utf8::first_invalid;
using dsgw::utf8::is_valid;

TEST_CASE("utf8::first_invalid accepts valid text of every sequence length") {
  CHECK_FALSE(first_invalid("").has_value());
  CHECK_FALSE(first_invalid("plain ascii text, longer than eight bytes").has_value());
  CHECK_FALSE(first_invalid("\xC3\xA9").has_value());          // é
  CHECK_FALSE(first_invalid("\xE2\x82\xAC").has_value());      // €
  CHECK_FALSE(first_invalid("\xF0\x9F\x98\x80").has_value());  // 😀
  CHECK_FALSE(first_invalid("\xF4\x8F\xBF\xBF").has_value());  // U+10FFFF
  CHECK_FALSE(first_invalid("\xED\x9F\xBF").has_value());      // U+D7FF, just below the surrogates
  CHECK_FALSE(first_invalid("\xEE\x80\x80").has_value());      // U+E000, just above them
  CHECK_FALSE(first_invalid("\xE0\xA0\x80").has_value());      // U+0800, shortest 3-byte form
  CHECK_FALSE(first_invalid("\xF0\x90\x80\x80").has_value());  // U+10000, shortest 4-byte form
  CHECK(is_valid("mixed \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80 text"));
}

TEST_CASE("utf8::first_invalid rejects overlong forms") {
  CHECK(first_invalid("\xC0\x80") == 0u);          // overlong NUL
  CHECK(first_invalid("\xC1\xBF") == 0u);          // overlong U+007F
  CHECK(first_invalid("\xE0\x80\x80") == 0u);      // 3-byte overlong
  CHECK(first_invalid("\xE0\x9F\xBF") == 0u);      // U+07FF in three bytes
  CHECK(first_invalid("\xF0\x80\x80\x80") == 0u);  // 4-byte overlong
  CHECK(first_invalid("\xF0\x8F\xBF\xBF") == 0u);  // U+FFFF in four bytes
}

TEST_CASE("utf8::first_invalid rejects UTF-16 surrogates") {
  CHECK(first_invalid("\xED\xA0\x80") == 0u);     // U+D800
  CHECK(first_invalid("\xED\xBF\xBF") == 0u);     // U+DFFF
  CHECK(first_invalid("ok\xED\xB0\x80") == 2u);  // U+DC00 after two good bytes
}

TEST_CASE("utf8::first_invalid rejects code points past U+10FFFF") {
  CHECK(first_invalid("\xF4\x90\x80\x80") == 0u);  // U+110000
  CHECK(first_invalid("\xF5\x80\x80\x80") == 0u);
  CHECK(first_invalid("\xF7\xBF\xBF\xBF") == 0u);
  CHECK(first_invalid("\xF8\x88\x80\x80\x80") == 0u);  // old 5-byte form
  CHECK(first_invalid("\xFE") == 0u);
  CHECK(first_invalid("\xFF") == 0u);
}

TEST_CASE("utf8::first_invalid rejects truncated sequences and stray continuation bytes") {
  CHECK(first_invalid("ab\xE2\x82") == 2u);          // € cut short at the end
  CHECK(first_invalid("\xF0\x9F\x98") == 0u);        // 😀 cut short
  CHECK(first_invalid("\xC3") == 0u);
  CHECK(first_invalid("\xE2\x28\xA1") == 0u);        // continuation replaced by '('
  CHECK(first_invalid("\xF0\x9F\x98x") == 0u);
  CHECK(first_invalid("abc\x80") == 3u);             // lone continuation byte
  CHECK(first_invalid("\xC3\xA9\xA9") == 2u);        // one continuation too many
}

TEST_CASE("utf8::first_invalid reports the offset past the ASCII fast path") {
  // The scanner takes eight ASCII bytes at a time: put the bad byte at every
  // position around those strides.
  for (size_t prefix = 0; prefix < 20; ++prefix) {
    CAPTURE(prefix);
    std::string text(prefix, 'a');
    text += "\xFF";
    text += "tail that is also ascii";
    CHECK(first_invalid(text) == prefix);
    std::string good(prefix, 'a');
    good += "\xF0\x9F\x98\x80" "bbbbbbbbbbbb";
    CHECK_FALSE(first_invalid(good).has_value());
  }
}

TEST_CASE("utf8::complete_prefix_length holds back a split sequence") {
  CHECK(complete_prefix_length("") == 0u);
  CHECK(complete_prefix_length("abc") == 3u);
  CHECK(complete_prefix_length("a\xC3") == 1u);
  CHECK(complete_prefix_length("a\xC3\xA9") == 3u);
  CHECK(complete_prefix_length("a\xE2") == 1u);
  CHECK(complete_prefix_length("a\xE2\x82") == 1u);
  CHECK(complete_prefix_length("a\xE2\x82\xAC") == 4u);
  CHECK(complete_prefix_length("\xF0") == 0u);
  CHECK(complete_prefix_length("\xF0\x9F") == 0u);
  CHECK(complete_prefix_length("\xF0\x9F\x98") == 0u);
  CHECK(complete_prefix_length("\xF0\x9F\x98\x80") == 4u);
  CHECK(complete_prefix_length("\xF0\x9F\x98\x80\xF0\x9F\x98") == 4u);
}

TEST_CASE("utf8::complete_prefix_length ends on the last boundary of every prefix") {
  const std::string text = "a\xC3\xA9" "b\xE2\x82\xAC\xF0\x9F\x98\x80" "c\xF0\x9F\x98\x80\xC3\xA9";
  // Character boundaries of `text`.
  const size_t boundaries[] = {0, 1, 3, 4, 7, 11, 12, 16, 18};
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    CAPTURE(cut);
    size_t expected = 0;
    for (size_t b : boundaries) {
      if (b <= cut) expected = b;
    }
    const size_t got = complete_prefix_length(std::string_view(text).substr(0, cut));
    CHECK(got == expected);
    CHECK(is_valid(std::string_view(text).substr(0, got)));
  }
}
