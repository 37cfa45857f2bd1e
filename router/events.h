// The native stream of events every backend produces and every front door
// turns back into its wire format.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>

#include "common/status.h"

namespace dsgw::router {

// A piece of the answer. Either text field may be empty.
struct Delta {
  std::string reasoning;  // reasoning_content
  std::string content;
  // Opaque JSON object text of further fields of the upstream's delta (or
  // message), e.g. tool_calls, and of its choice, e.g. logprobs; empty if none.
  std::string delta_extra_json;
  std::string choice_extra_json;
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // prompt_cache_hit_tokens / cached_tokens
  int64_t reasoning_tokens = 0;
};

// The generation ended normally. `reason` is OpenAI's finish_reason:
// stop | length | tool_calls | content_filter (upstream values pass through).
struct Finish {
  std::string reason;
};

// The generation failed. Ends the stream.
struct Failure {
  Error error;
};

using Event = std::variant<Delta, Usage, Finish, Failure>;

inline bool is_terminal(const Event& e) {
  return std::holds_alternative<Finish>(e) || std::holds_alternative<Failure>(e);
}

// Where a backend puts its events. Implementations are thread-safe.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // Delivers one event. Returns false once the consumer has gone (client
  // disconnected, deadline passed): the producer should stop and return.
  virtual bool emit(Event event) = 0;
  virtual bool cancelled() const = 0;
  // Registers a callback run once when the consumer cancels (immediately if it
  // already has), e.g. to abort a blocking upstream read. Replaces any earlier
  // callback; pass an empty function to clear it.
  virtual void on_cancel(std::function<void()> callback) = 0;
};

}  // namespace dsgw::router
