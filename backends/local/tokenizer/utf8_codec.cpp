#include "backends/local/tokenizer/utf8_codec.h"

namespace dsgw::local::utf8 {
namespace {

// Number of bytes a sequence starting with `b0` needs (0: never a lead byte),
// and the allowed range of its second byte (which excludes overlong forms,
// surrogates and code points past U+10FFFF).
struct LeadInfo {
  uint8_t length;
  uint8_t second_min;
  uint8_t second_max;
};

LeadInfo lead_info(unsigned char b0) {
  if (b0 < 0x80) return {1, 0, 0};
  if (b0 < 0xC2) return {0, 0, 0};
  if (b0 < 0xE0) return {2, 0x80, 0xBF};
  if (b0 == 0xE0) return {3, 0xA0, 0xBF};
  if (b0 == 0xED) return {3, 0x80, 0x9F};
  if (b0 < 0xF0) return {3, 0x80, 0xBF};
  if (b0 == 0xF0) return {4, 0x90, 0xBF};
  if (b0 < 0xF4) return {4, 0x80, 0xBF};
  if (b0 == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

// Length of the longest prefix of a sequence at text[pos] that is valid so
// far (1 for a bad lead byte, which is then a maximal subpart by itself), and
// whether the sequence is complete.
size_t valid_prefix(std::string_view text, size_t pos, bool& complete) {
  const auto b0 = static_cast<unsigned char>(text[pos]);
  const LeadInfo info = lead_info(b0);
  complete = false;
  if (info.length == 0) return 0;
  if (info.length == 1) {
    complete = true;
    return 1;
  }
  size_t n = 1;
  for (; n < info.length; ++n) {
    if (pos + n >= text.size()) return n;
    const auto b = static_cast<unsigned char>(text[pos + n]);
    const uint8_t lo = n == 1 ? info.second_min : 0x80;
    const uint8_t hi = n == 1 ? info.second_max : 0xBF;
    if (b < lo || b > hi) return n;
  }
  complete = true;
  return n;
}

}  // namespace

size_t valid_sequence_length(std::string_view text, size_t pos) {
  bool complete = false;
  const size_t n = valid_prefix(text, pos, complete);
  return complete ? n : 0;
}

std::optional<size_t> first_invalid(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const size_t n = valid_sequence_length(text, pos);
    if (n == 0) return pos;
    pos += n;
  }
  return std::nullopt;
}

void append_lossy(std::string& out, std::string_view bytes) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    bool complete = false;
    const size_t n = valid_prefix(bytes, pos, complete);
    if (complete) {
      out.append(bytes.substr(pos, n));
      pos += n;
    } else {
      append(out, kReplacementChar);
      pos += n == 0 ? 1 : n;
    }
  }
}

size_t stable_prefix_length(std::string_view bytes) {
  // Only the last three bytes can start an unfinished character.
  const size_t from = bytes.size() > 3 ? bytes.size() - 3 : 0;
  for (size_t pos = from; pos < bytes.size(); ++pos) {
    const auto b = static_cast<unsigned char>(bytes[pos]);
    if (b < 0xC0) continue;  // ASCII or a continuation byte
    bool complete = false;
    const size_t n = valid_prefix(bytes, pos, complete);
    if (!complete && n > 0 && pos + n == bytes.size()) return pos;
  }
  return bytes.size();
}

}  // namespace dsgw::local::utf8
