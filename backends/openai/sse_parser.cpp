#include "backends/openai/sse_parser.h"

namespace dsgw::backends::openai {

bool SseParser::feed(std::string_view bytes, const Handler& on_event) {
  if (bytes.empty()) return true;
  size_t start = 0;
  if (after_cr_ && !bytes.empty() && bytes.front() == '\n') start = 1;  // the \n of a \r\n
  after_cr_ = false;
  for (size_t i = start; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (c != '\n' && c != '\r') continue;
    std::string_view text = bytes.substr(start, i - start);
    bool go_on;
    if (partial_.empty()) {
      go_on = line(text, on_event);
    } else {
      partial_.append(text);
      go_on = line(partial_, on_event);
      partial_.clear();
    }
    if (!go_on) return false;
    if (c == '\r') {
      if (i + 1 < bytes.size()) {
        if (bytes[i + 1] == '\n') ++i;
      } else {
        after_cr_ = true;
      }
    }
    start = i + 1;
  }
  partial_.append(bytes.substr(start));
  return partial_.size() + pending_.data.size() <= kMaxEventBytes;
}

bool SseParser::line(std::string_view text, const Handler& on_event) {
  if (text.empty()) {  // blank line: dispatch
    if (!has_data_) {
      pending_.event.clear();
      return true;
    }
    const bool go_on = on_event(pending_);
    pending_ = SseEvent{};
    has_data_ = false;
    return go_on;
  }
  if (text.front() == ':') return true;  // comment (keep-alive)
  const size_t colon = text.find(':');
  std::string_view field = text.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (has_data_) pending_.data.push_back('\n');
    pending_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    pending_.event = std::string(value);
  }
  // id and retry mean nothing to a proxied completion stream.
  return true;
}

}  // namespace dsgw::backends::openai
