// Incremental parser for text/event-stream, fed bytes as they arrive, in
// chunks cut anywhere (inside a line, between \r and \n).
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace dsgw::backends::openai {

struct SseEvent {
  std::string event;  // the `event:` field; empty for the default "message"
  std::string data;   // `data:` lines joined with '\n'
};

class SseParser {
 public:
  // Called once per complete event; return false to stop parsing.
  using Handler = std::function<bool(const SseEvent&)>;

  // Returns false if the handler asked to stop, or if the pending data grew
  // past `max_event_bytes` (a misbehaving upstream).
  bool feed(std::string_view bytes, const Handler& on_event);

  static constexpr size_t kMaxEventBytes = 16 << 20;

 private:
  bool line(std::string_view text, const Handler& on_event);

  std::string partial_;      // an unterminated line
  bool after_cr_ = false;    // the previous chunk ended with '\r'
  SseEvent pending_;
  bool has_data_ = false;
};

}  // namespace dsgw::backends::openai
