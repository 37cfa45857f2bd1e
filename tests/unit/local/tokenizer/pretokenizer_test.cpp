#include "backends/local/tokenizer/pretokenizer.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/unit/local/tokenizer/test_tokenizers.h"

namespace dsgw::local {
namespace {

using Pieces = std::vector<std::string>;

Pieces split(std::string_view text, SplitPattern pattern = SplitPattern::kQwen2) {
  std::vector<std::string_view> views;
  pre_tokenize(pattern, text, views);
  return Pieces(views.begin(), views.end());
}

TEST_CASE("known regexes select their splitter; others are refused") {
  CHECK(*split_pattern_from_regex(testing::kQwen2Regex) == SplitPattern::kQwen2);
  CHECK(*split_pattern_from_regex(testing::kLlama3Regex) == SplitPattern::kLlama3);
  CHECK(split_pattern_regex(SplitPattern::kQwen2) == testing::kQwen2Regex);
  auto other = split_pattern_from_regex(R"(\s+|\S+)");
  REQUIRE_FALSE(other.has_value());
  CHECK(other.error().message.find(R"(\s+|\S+)") != std::string::npos);
}

TEST_CASE("words take one leading non-letter, non-digit, non-newline character") {
  CHECK(split("Hello world") == Pieces{"Hello", " world"});
  CHECK(split("Hello  world") == Pieces{"Hello", " ", " world"});
  CHECK(split("(hello)") == Pieces{"(hello", ")"});
  CHECK(split("\tx") == Pieces{"\tx"});
  CHECK(split("\nx") == Pieces{"\n", "x"});
  CHECK(split("1x") == Pieces{"1", "x"});
  CHECK(split("naïve café") == Pieces{"naïve", " café"});
  CHECK(split("我们今天") == Pieces{"我们今天"});
  CHECK(split("\xC2\xA0x") == Pieces{"\xC2\xA0x"});  // NBSP is white space, not \r\n
}

TEST_CASE("contractions are case-insensitive and split off before words") {
  CHECK(split("I'm you're it's") == Pieces{"I", "'m", " you", "'re", " it", "'s"});
  CHECK(split("DON'T I'LL we'VE") == Pieces{"DON", "'T", " I", "'LL", " we", "'VE"});
  CHECK(split("'sup") == Pieces{"'s", "up"});
  CHECK(split("'x") == Pieces{"'x"});
  // Two apostrophes are a punctuation run first: "''" then "s".
  CHECK(split("''s") == Pieces{"''", "s"});
  CHECK(split("it’s") == Pieces{"it", "’s"});  // the typographic apostrophe is not a contraction
  // HF's regex engines fold U+017F LONG S to s inside (?i:...); JavaScript's
  // [sS] rewrite of the pattern does not.
  CHECK(split("it'\xC5\xBF") == Pieces{"it", "'\xC5\xBF"});
}

TEST_CASE("digits: one at a time for Qwen2, runs of up to three for Llama-3") {
  CHECK(split("12345") == Pieces{"1", "2", "3", "4", "5"});
  CHECK(split("12345", SplitPattern::kLlama3) == Pieces{"123", "45"});
  CHECK(split("x1234567y", SplitPattern::kLlama3) == Pieces{"x", "123", "456", "7", "y"});
  CHECK(split("²³½", SplitPattern::kLlama3) == Pieces{"²³½"});  // \p{N} includes No
  CHECK(split("٣.١٤") == Pieces{"٣", ".", "١", "٤"});
}

TEST_CASE("punctuation runs take one leading space and trailing newlines") {
  CHECK(split("a, b") == Pieces{"a", ",", " b"});
  CHECK(split("x ...!?") == Pieces{"x", " ...!?"});
  CHECK(split("x  ...") == Pieces{"x", " ", " ..."});
  CHECK(split("};\n\n}") == Pieces{"};\n\n", "}"});
  CHECK(split("😀👍🏽") == Pieces{"😀👍🏽"});
  CHECK(split(" 😀") == Pieces{" 😀"});
}

TEST_CASE("white space: newlines end their run, a space before a word is left to it") {
  CHECK(split("a\n\nb") == Pieces{"a", "\n\n", "b"});
  CHECK(split("a \n b") == Pieces{"a", " \n", " b"});
  CHECK(split("a\r\n\r\nb") == Pieces{"a", "\r\n\r\n", "b"});
  CHECK(split("a  \n\t b") == Pieces{"a", "  \n", "\t", " b"});
  CHECK(split("a   b") == Pieces{"a", "  ", " b"});
  CHECK(split("a   ") == Pieces{"a", "   "});
  CHECK(split("   ") == Pieces{"   "});
  CHECK(split(" ") == Pieces{" "});
  CHECK(split("a \t1") == Pieces{"a", " ", "\t", "1"});
  CHECK(split("x \n") == Pieces{"x", " \n"});
  CHECK(split("\u3000\u3000x") == Pieces{"\u3000", "\u3000x"});
  // U+0085 is White_Space (HF's \s); U+FEFF is not.
  CHECK(split("a\xC2\x85 b") == Pieces{"a", "\xC2\x85", " b"});
  CHECK(split("a \xEF\xBB\xBF") == Pieces{"a", " \xEF\xBB\xBF"});
}

TEST_CASE("pieces cover the text exactly") {
  const std::string text = "Mixed: 中文 text, 12 numbers\r\n\ttabs 'n' emoji 🧑‍💻 — done.  ";
  std::string joined;
  for (const auto& p : split(text)) joined += p;
  CHECK(joined == text);
  CHECK(split("").empty());
}

}  // namespace
}  // namespace dsgw::local
