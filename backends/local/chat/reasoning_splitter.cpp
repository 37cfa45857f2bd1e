#include "backends/local/chat/reasoning_splitter.h"

#include "backends/local/chat/chat_template.h"
#include "backends/local/chat/stop_matcher.h"

namespace dsgw::local {

ReasoningSplitter::ReasoningSplitter(GenerationStart start) {
  switch (start) {
    case GenerationStart::kReasoning:
      state_ = State::kOpening;
      break;
    case GenerationStart::kAnswerStart:
      state_ = State::kContent;
      strip_newlines_ = true;
      break;
    case GenerationStart::kAnswer:
      state_ = State::kContent;
      break;
  }
}

void ReasoningSplitter::emit(std::string_view text, std::string& to) {
  if (strip_newlines_) {
    size_t keep = text.find_first_not_of("\r\n");
    if (keep == std::string_view::npos) return;
    text.remove_prefix(keep);
    strip_newlines_ = false;
  }
  to.append(text);
}

void ReasoningSplitter::feed_text(std::string_view piece, ReasoningDelta& out) {
  if (state_ == State::kContent) {
    emit(piece, out.content);
    return;
  }
  std::string buf = std::move(held_);
  held_.clear();
  buf.append(piece);
  std::string_view rest = buf;

  if (state_ == State::kOpening) {
    if (rest.size() < kThinkStartToken.size() && kThinkStartToken.starts_with(rest)) {
      held_.assign(rest);  // could still become "<think>"
      return;
    }
    state_ = State::kReasoning;
    if (rest.starts_with(kThinkStartToken)) {
      rest.remove_prefix(kThinkStartToken.size());
      strip_newlines_ = true;
    }
  }

  size_t end = rest.find(kThinkEndToken);
  if (end == std::string_view::npos) {
    size_t hold = partial_match_suffix(rest, kThinkEndToken);
    emit(rest.substr(0, rest.size() - hold), out.reasoning);
    held_.assign(rest.substr(rest.size() - hold));
    return;
  }
  emit(rest.substr(0, end), out.reasoning);
  state_ = State::kContent;
  strip_newlines_ = true;
  emit(rest.substr(end + kThinkEndToken.size()), out.content);
}

ReasoningDelta ReasoningSplitter::feed(std::string_view piece, PieceKind kind) {
  ReasoningDelta out;
  switch (kind) {
    case PieceKind::kText:
      feed_text(piece, out);
      break;
    case PieceKind::kThinkStart:
      if (state_ == State::kOpening && held_.empty()) {
        state_ = State::kReasoning;
        strip_newlines_ = true;
      } else {
        feed_text(kThinkStartToken, out);
      }
      break;
    case PieceKind::kThinkEnd:
      if (in_reasoning()) {
        emit(held_, out.reasoning);
        held_.clear();
        state_ = State::kContent;
        strip_newlines_ = true;
      } else {
        feed_text(kThinkEndToken, out);
      }
      break;
  }
  return out;
}

ReasoningDelta ReasoningSplitter::flush() {
  ReasoningDelta out;
  if (in_reasoning()) {
    emit(held_, out.reasoning);
    if (state_ == State::kOpening) state_ = State::kReasoning;
  }
  held_.clear();
  return out;
}

}  // namespace dsgw::local
