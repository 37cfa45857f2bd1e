#include "backends/local/chat/stop_matcher.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace dsgw::local {
namespace {

struct Outcome {
  std::string text;
  bool stopped = false;
  size_t stop_index = 0;
};

Outcome run(const std::vector<std::string>& stops, const std::vector<std::string>& pieces) {
  StopMatcher m(stops);
  Outcome o;
  for (const std::string& p : pieces) {
    StopFeed f = m.feed(p);
    o.text += f.text;
    if (f.stopped) {
      REQUIRE_FALSE(o.stopped);  // reported once
      o.stopped = true;
      o.stop_index = f.stop_index;
    }
  }
  o.text += m.flush();
  CHECK(m.stopped() == o.stopped);
  return o;
}

// The same outcome for every cut into two or three pieces, and byte by byte.
void check_all_splits(const std::vector<std::string>& stops, const std::string& text, const std::string& want,
                      bool stopped, size_t index = 0) {
  CAPTURE(text);
  auto check = [&](const Outcome& o) {
    REQUIRE(o.text == want);
    REQUIRE(o.stopped == stopped);
    if (stopped) REQUIRE(o.stop_index == index);
  };
  for (size_t i = 0; i <= text.size(); ++i) {
    for (size_t j = i; j <= text.size(); ++j) {
      CAPTURE(i);
      CAPTURE(j);
      check(run(stops, {text.substr(0, i), text.substr(i, j - i), text.substr(j)}));
    }
  }
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  check(run(stops, bytes));
}

TEST_CASE("text before the stop string is emitted, the stop string and the rest are not") {
  check_all_splits({"STOP"}, "Hello STOP world STOP", "Hello ", true, 0);
  check_all_splits({"STOP"}, "STOP", "", true, 0);
  check_all_splits({"STOP"}, "Hello STO", "Hello STO", false);
  check_all_splits({"STOP"}, "SSTSTOSTOP!", "SSTSTO", true, 0);
  check_all_splits({"。"}, "一句话。第二句", "一句话", true, 0);
}

TEST_CASE("several stop strings: the first to complete wins") {
  check_all_splits({"\n\n", "END"}, "a END b\n\n", "a ", true, 1);
  check_all_splits({"\n\n", "END"}, "a\n\nEND", "a", true, 0);
  check_all_splits({"abc", "abd"}, "abab abd abc", "abab ", true, 1);
  check_all_splits({"x", "y", "z"}, "no stops here", "no stops here", false);
}

TEST_CASE("overlapping prefixes") {
  // "bc" completes (at byte 4) before "abcd" (at byte 5).
  check_all_splits({"abcd", "bc"}, "xabcd", "xa", true, 1);
  // Both complete at the same byte: the one that starts earlier wins.
  check_all_splits({"b", "ab"}, "xab", "x", true, 1);
  // A failed partial match must not hide a match starting inside it.
  check_all_splits({"aab"}, "aaab", "a", true, 0);
  check_all_splits({"abab"}, "abaabab", "aba", true, 0);
  check_all_splits({"<|im_end|>", "<|"}, "hi <|im_end|>", "hi ", true, 1);
}

TEST_CASE("only a suffix that could start a stop string is held back") {
  StopMatcher m({"STOP", "xyz"});
  StopFeed f = m.feed("Hello S");
  CHECK(f.text == "Hello ");
  CHECK(m.held_bytes() == 1);
  f = m.feed("Tx");
  CHECK(f.text == "ST");
  CHECK(m.held_bytes() == 1);
  f = m.feed("yq");
  CHECK(f.text == "xyq");
  CHECK(m.held_bytes() == 0);
  CHECK_FALSE(f.stopped);
  f = m.feed("STOP tail");
  CHECK(f.text.empty());
  CHECK(f.stopped);
  CHECK(m.feed("more").text.empty());
  CHECK(m.flush().empty());
}

TEST_CASE("no usable stop strings pass everything through") {
  StopMatcher none({});
  CHECK_FALSE(none.active());
  CHECK(none.feed("a").text == "a");
  StopMatcher empty({"", ""});
  CHECK_FALSE(empty.active());
  CHECK(empty.feed("STOP").text == "STOP");
  // An empty string among real ones is skipped; indices still match the list.
  check_all_splits({"", "END"}, "xxENDyy", "xx", true, 1);
}

TEST_CASE("partial_match_suffix") {
  CHECK(partial_match_suffix("abc</th", "</think>") == 4);
  CHECK(partial_match_suffix("abc", "</think>") == 0);
  CHECK(partial_match_suffix("</think>", "</think>") == 0);  // proper prefixes only
  CHECK(partial_match_suffix("aa", "aab") == 2);
  CHECK(partial_match_suffix("", "x") == 0);
  CHECK(partial_match_suffix("x", "") == 0);
}

}  // namespace
}  // namespace dsgw::local
