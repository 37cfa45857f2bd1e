// Streaming stop sequences with OpenAI semantics: the text before the first
// stop string is returned, the stop string and everything after it are not.
//
// Feed decoded pieces; each call returns the text that is safe to emit now.
// A suffix that could still be the start of a stop string is held back until
// the next piece decides it (or flush() at the end of generation releases
// it). "First" means the stop string that completes earliest in the stream,
// as if the text arrived one byte at a time; when several complete at the
// same byte, the one that starts earliest (the longest) wins. So the result
// does not depend on how the text is split into pieces.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace dsgw::local {

// Length of the longest proper prefix of `needle` that `text` ends with
// (0 if none): the bytes to hold back while waiting for the rest of `needle`.
inline size_t partial_match_suffix(std::string_view text, std::string_view needle) {
  if (needle.empty()) return 0;
  for (size_t k = std::min(text.size(), needle.size() - 1); k > 0; --k) {
    if (text.substr(text.size() - k) == needle.substr(0, k)) return k;
  }
  return 0;
}

struct StopFeed {
  std::string text;       // emit this now
  bool stopped = false;   // a stop string completed; end the generation
  size_t stop_index = 0;  // when stopped: which one, an index into the constructor's list
};

class StopMatcher {
 public:
  // Empty strings in `stops` are ignored (they would stop before anything).
  explicit StopMatcher(std::vector<std::string> stops);

  // After a stop, further feeds return nothing.
  StopFeed feed(std::string_view piece);
  // The end of generation without a stop: the held-back text.
  std::string flush();

  bool stopped() const { return stopped_; }
  // False when there is nothing to match: callers may skip the matcher.
  bool active() const { return active_; }
  size_t held_bytes() const { return held_.size(); }

 private:
  std::vector<std::string> stops_;
  bool active_ = false;
  bool stopped_ = false;
  std::string held_;
};

}  // namespace dsgw::local
