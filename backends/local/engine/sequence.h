// One generation inside the local engine: its prompt, sampler and the text
// pipeline that turns sampled tokens into events (detokenise -> split
// reasoning -> stop strings). Created by a request thread, then owned by the
// engine thread; only cancel() and events() are for other threads.
#pragma once

#include <atomic>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backends/local/chat/reasoning_splitter.h"
#include "backends/local/chat/stop_matcher.h"
#include "backends/local/sampling/sampler.h"
#include "backends/local/tokenizer/stream_decoder.h"
#include "backends/local/tokenizer/tokenizer.h"
#include "router/event_channel.h"
#include "router/request.h"

namespace dsgw::local {

struct SequenceSpec {
  std::vector<TokenId> prompt;
  router::SamplingParams sampling;
  int64_t max_new_tokens = 0;  // already capped by the context
  int priority = 5;            // 0 first
  bool split_reasoning = true;  // chat: reasoning_content vs content
  GenerationStart start = GenerationStart::kReasoning;
  std::vector<TokenId> end_tokens;  // any of these ends the generation (eos)
};

class Sequence {
 public:
  Sequence(SequenceSpec spec, const Tokenizer& tokenizer, int32_t vocab_limit);

  // Any thread.
  void cancel() { cancelled_.store(true, std::memory_order_release); }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  // Unbounded: the engine thread never waits for a slow client.
  router::EventChannel& events() { return events_; }

  // Engine thread.
  const SequenceSpec& spec() const { return spec_; }
  int32_t sample(std::span<const float> logits) { return sampler_.sample(logits); }
  // Takes a sampled token; emits its text. Returns false once finished
  // (an end token, a stop string, max_new_tokens or `context_full`).
  bool append(TokenId token, bool context_full);
  // Ends the generation with an error.
  void fail(Error error);
  bool finished() const { return finished_; }
  int64_t generated() const { return generated_; }

  // Scheduling state, engine thread only.
  int slot = -1;
  int64_t cached = 0;        // tokens of this sequence in its KV-cache slot
  TokenId next_input = 0;    // the token to feed at the next decode step
  uint64_t arrival = 0;      // admission order among equal priorities

 private:
  void emit_text(std::string_view text);
  void finish(const char* reason);

  SequenceSpec spec_;
  std::atomic<bool> cancelled_{false};
  router::EventChannel events_;
  Sampler sampler_;
  StreamDecoder decoder_;
  ReasoningSplitter splitter_;
  StopMatcher stops_;
  int64_t generated_ = 0;
  int64_t reasoning_tokens_ = 0;
  bool finished_ = false;
};

}  // namespace dsgw::local
