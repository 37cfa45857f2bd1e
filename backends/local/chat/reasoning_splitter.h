// Splits the streamed output of an R1 distill into reasoning_content and
// content, as DeepSeek's API does.
//
// - Everything before "</think>" is reasoning. The prompt ends with "<think>\n"
//   so the model rarely repeats the opening tag; if its output starts with
//   "<think>" anyway, the tag and the newlines right after it are dropped.
// - After "</think>" everything is content; the newlines right after the tag
//   are dropped. A second "</think>" (or any later "<think>") is content.
// - If "</think>" never comes (e.g. max_tokens cut the reasoning short),
//   everything is reasoning and content stays empty, as DeepSeek returns it.
//
// Pieces are decoded text: the tags may arrive as special tokens (say so with
// PieceKind, the piece's text is then ignored) or as plain text split anywhere
// ("</thi" + "nk>"). Only a suffix that could still begin a tag is held back;
// flush() releases it at the end. The same concatenated input gives the same
// concatenated output however it is split.
#pragma once

#include <string>
#include <string_view>

namespace dsgw::local {

// Where generation starts (ChatPrompt says, for prefills).
enum class GenerationStart {
  kReasoning,    // the usual: the prompt ended with "<think>\n"
  kAnswerStart,  // a prefill ended right after "</think>": newlines still to strip
  kAnswer,       // a prefill already has answer text
};

struct ReasoningDelta {
  std::string reasoning;
  std::string content;
  bool empty() const { return reasoning.empty() && content.empty(); }
};

class ReasoningSplitter {
 public:
  enum class PieceKind { kText, kThinkStart, kThinkEnd };

  explicit ReasoningSplitter(GenerationStart start = GenerationStart::kReasoning);

  ReasoningDelta feed(std::string_view piece, PieceKind kind = PieceKind::kText);
  // The end of generation: what was held back (a partial tag that never
  // completed) is reasoning text.
  ReasoningDelta flush();

  bool in_reasoning() const { return state_ == State::kOpening || state_ == State::kReasoning; }
  size_t held_bytes() const { return held_.size(); }

 private:
  enum class State { kOpening, kReasoning, kContent };

  void feed_text(std::string_view text, ReasoningDelta& out);
  void emit(std::string_view text, std::string& to);

  State state_;
  bool strip_newlines_ = false;  // drop '\n'/'\r' until other text comes
  std::string held_;             // a proper prefix of the tag the state waits for
};

}  // namespace dsgw::local
