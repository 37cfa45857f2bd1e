#include "backends/local/chat/reasoning_splitter.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace dsgw::local {
namespace {

using Kind = ReasoningSplitter::PieceKind;

struct Split {
  std::string reasoning;
  std::string content;
};

void add(Split& s, const ReasoningDelta& d) {
  s.reasoning += d.reasoning;
  s.content += d.content;
}

Split run(const std::vector<std::string>& pieces, GenerationStart start = GenerationStart::kReasoning) {
  ReasoningSplitter splitter(start);
  Split s;
  for (const std::string& p : pieces) add(s, splitter.feed(p));
  add(s, splitter.flush());
  return s;
}

// Every way to cut `text` into two and into three pieces, plus one byte at a time.
void check_all_splits(const std::string& text, const std::string& reasoning, const std::string& content) {
  CAPTURE(text);
  for (size_t i = 0; i <= text.size(); ++i) {
    for (size_t j = i; j <= text.size(); ++j) {
      CAPTURE(i);
      CAPTURE(j);
      Split s = run({text.substr(0, i), text.substr(i, j - i), text.substr(j)});
      REQUIRE(s.reasoning == reasoning);
      REQUIRE(s.content == content);
    }
  }
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  Split s = run(bytes);
  CHECK(s.reasoning == reasoning);
  CHECK(s.content == content);
}

TEST_CASE("reasoning before </think>, content after it, at every split position") {
  check_all_splits("Okay, 2+2 is 4.</think>\n\nThe answer is 4.", "Okay, 2+2 is 4.", "The answer is 4.");
  check_all_splits("<think>\nHmm.</think>\n\nYes.", "Hmm.", "Yes.");
  check_all_splits("思考 < </ </t</think>\r\n答案 </think> 2", "思考 < </ </t", "答案 </think> 2");
  check_all_splits("</think>only content", "", "only content");
  check_all_splits("a <think> b</think>c", "a <think> b", "c");
}

TEST_CASE("without </think> everything is reasoning, held tails included") {
  check_all_splits("still thinking </thi", "still thinking </thi", "");
  check_all_splits("<thinking about it", "<thinking about it", "");
  check_all_splits("<thi", "<thi", "");
  check_all_splits("<think>", "", "");
}

TEST_CASE("only what could still start the tag is held back") {
  ReasoningSplitter s;
  ReasoningDelta d = s.feed("abc</th");
  CHECK(d.reasoning == "abc");
  CHECK(s.held_bytes() == 4);
  d = s.feed("x<");
  CHECK(d.reasoning == "</thx");
  CHECK(s.held_bytes() == 1);
  d = s.feed("b");
  CHECK(d.reasoning == "<b");
  CHECK(s.held_bytes() == 0);
  d = s.feed("</think>");
  CHECK(d.empty());
  CHECK_FALSE(s.in_reasoning());
  d = s.feed("\n");
  CHECK(d.empty());  // newlines right after </think> are dropped
  d = s.feed("\nA</thi");
  CHECK(d.content == "A</thi");  // no holding back in the answer
  CHECK(s.held_bytes() == 0);
}

TEST_CASE("a leading partial <think> is held, then released if it is not the tag") {
  ReasoningSplitter s;
  CHECK(s.feed("<th").empty());
  CHECK(s.held_bytes() == 3);
  ReasoningDelta d = s.feed("e");
  CHECK(d.reasoning == "<the");
}

TEST_CASE("special-token pieces") {
  SUBCASE("the usual stream") {
    ReasoningSplitter s;
    Split out;
    add(out, s.feed("reason"));
    add(out, s.feed("</think>", Kind::kThinkEnd));
    add(out, s.feed("\n\nanswer"));
    add(out, s.flush());
    CHECK(out.reasoning == "reason");
    CHECK(out.content == "answer");
  }
  SUBCASE("a leading <think> token is dropped with its newline") {
    ReasoningSplitter s;
    Split out;
    add(out, s.feed("", Kind::kThinkStart));
    add(out, s.feed("\nr"));
    add(out, s.feed("", Kind::kThinkEnd));
    add(out, s.feed("c"));
    CHECK(out.reasoning == "r");
    CHECK(out.content == "c");
  }
  SUBCASE("a held partial tag before the </think> token is reasoning") {
    ReasoningSplitter s;
    Split out;
    add(out, s.feed("abc</th"));
    add(out, s.feed("", Kind::kThinkEnd));
    CHECK(out.reasoning == "abc</th");
  }
  SUBCASE("tags after the reasoning ended are literal content") {
    ReasoningSplitter s;
    Split out;
    add(out, s.feed("r", Kind::kText));
    add(out, s.feed("", Kind::kThinkEnd));
    add(out, s.feed("x"));
    add(out, s.feed("", Kind::kThinkEnd));
    add(out, s.feed("", Kind::kThinkStart));
    CHECK(out.reasoning == "r");
    CHECK(out.content == "x</think><think>");
  }
  SUBCASE("a <think> token in the middle of the reasoning is text") {
    ReasoningSplitter s;
    Split out;
    add(out, s.feed("a"));
    add(out, s.feed("", Kind::kThinkStart));
    add(out, s.flush());
    CHECK(out.reasoning == "a<think>");
  }
}

TEST_CASE("prefills that closed the reasoning start in the answer") {
  Split s = run({"\n", "\nHi\n"}, GenerationStart::kAnswerStart);
  CHECK(s.reasoning.empty());
  CHECK(s.content == "Hi\n");
  s = run({"\n\nHi</think>"}, GenerationStart::kAnswer);
  CHECK(s.reasoning.empty());
  CHECK(s.content == "\n\nHi</think>");
}

}  // namespace
}  // namespace dsgw::local
