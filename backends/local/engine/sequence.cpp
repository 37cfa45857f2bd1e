#include "backends/local/engine/sequence.h"

#include <algorithm>
#include <limits>

namespace dsgw::local {

Sequence::Sequence(SequenceSpec spec, const Tokenizer& tokenizer, int32_t vocab_limit)
    : spec_(std::move(spec)),
      events_(std::numeric_limits<size_t>::max()),
      sampler_(spec_.sampling, vocab_limit),
      decoder_(tokenizer, /*skip_special=*/true),
      splitter_(spec_.start),
      stops_(spec_.sampling.stop) {}

void Sequence::emit_text(std::string_view text) {
  router::Delta delta;
  if (spec_.split_reasoning) {
    ReasoningDelta split = splitter_.feed(text);
    delta.reasoning = std::move(split.reasoning);
    delta.content = std::move(split.content);
  } else {
    delta.content = std::string(text);
  }
  // Stop strings apply to the answer, not to the reasoning.
  if (stops_.active() && !delta.content.empty()) {
    StopFeed fed = stops_.feed(delta.content);
    delta.content = std::move(fed.text);
  }
  if (!delta.reasoning.empty() || !delta.content.empty()) events_.emit(std::move(delta));
}

bool Sequence::append(TokenId token, bool context_full) {
  if (finished_) return false;
  ++generated_;
  sampler_.accept(token);
  if (std::find(spec_.end_tokens.begin(), spec_.end_tokens.end(), token) != spec_.end_tokens.end()) {
    finish("stop");
    return false;
  }
  auto text = decoder_.feed(token);
  if (!text) {
    fail(text.error());
    return false;
  }
  if (spec_.split_reasoning && splitter_.in_reasoning()) ++reasoning_tokens_;
  if (!text->empty()) emit_text(*text);
  if (stops_.stopped()) {
    finish("stop");
  } else if (generated_ >= spec_.max_new_tokens || context_full) {
    finish("length");
  }
  return !finished_;
}

void Sequence::finish(const char* reason) {
  const bool stopped = stops_.stopped();
  if (!stopped) {
    // Release what the pipeline held back: an unfinished character, a
    // partial tag, a partial stop string.
    std::string tail = decoder_.finish();
    router::Delta delta;
    if (spec_.split_reasoning) {
      ReasoningDelta a = splitter_.feed(tail);
      ReasoningDelta b = splitter_.flush();
      delta.reasoning = a.reasoning + b.reasoning;
      delta.content = a.content + b.content;
    } else {
      delta.content = std::move(tail);
    }
    if (stops_.active()) {
      StopFeed fed = stops_.feed(delta.content);
      delta.content = fed.text + (fed.stopped ? std::string() : stops_.flush());
    }
    if (!delta.reasoning.empty() || !delta.content.empty()) events_.emit(std::move(delta));
  }
  router::Usage usage;
  usage.prompt_tokens = static_cast<int64_t>(spec_.prompt.size());
  usage.completion_tokens = generated_;
  usage.reasoning_tokens = reasoning_tokens_;
  events_.emit(usage);
  events_.emit(router::Finish{reason});
  events_.close();
  finished_ = true;
}

void Sequence::fail(Error error) {
  if (finished_) return;
  events_.emit(router::Failure{std::move(error)});
  events_.close();
  finished_ = true;
}

}  // namespace dsgw::local
