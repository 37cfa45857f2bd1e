#include "backends/local/chat/stop_matcher.h"

#include <utility>

namespace dsgw::local {

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  active_ = std::any_of(stops_.begin(), stops_.end(), [](const std::string& s) { return !s.empty(); });
}

StopFeed StopMatcher::feed(std::string_view piece) {
  StopFeed out;
  if (stopped_) return out;
  if (!active_) {
    out.text.assign(piece);
    return out;
  }
  std::string buf = std::move(held_);
  held_.clear();
  buf.append(piece);

  // The stop string that completes first; ties go to the earliest start.
  size_t best_end = std::string::npos;
  size_t best_pos = 0;
  for (size_t i = 0; i < stops_.size(); ++i) {
    if (stops_[i].empty()) continue;
    size_t pos = buf.find(stops_[i]);
    if (pos == std::string::npos) continue;
    size_t end = pos + stops_[i].size();
    if (end < best_end || (end == best_end && pos < best_pos)) {
      best_end = end;
      best_pos = pos;
      out.stop_index = i;
    }
  }
  if (best_end != std::string::npos) {
    stopped_ = true;
    buf.resize(best_pos);
    out.text = std::move(buf);
    out.stopped = true;
    return out;
  }

  size_t hold = 0;
  for (const std::string& stop : stops_) hold = std::max(hold, partial_match_suffix(buf, stop));
  held_.assign(buf, buf.size() - hold, hold);
  buf.resize(buf.size() - hold);
  out.text = std::move(buf);
  return out;
}

std::string StopMatcher::flush() {
  std::string out = std::move(held_);
  held_.clear();
  if (stopped_) out.clear();
  return out;
}

}  // namespace dsgw::local
