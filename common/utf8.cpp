#include "common/utf8.h"

#include <cstdint>

namespace dsgw::utf8 {
namespace {

// Number of bytes in the sequence that starts with `lead`, or 0 if `lead`
// cannot start one.
int sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

bool is_continuation(uint8_t b) { return (b & 0xC0) == 0x80; }

}  // namespace

std::optional<size_t> first_invalid(std::string_view text) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // Fast path: eight ASCII bytes at a time.
    while (i + 8 <= n) {
      uint64_t chunk;
      __builtin_memcpy(&chunk, s + i, 8);
      if (chunk & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    const uint8_t lead = s[i];
    const int len = sequence_length(lead);
    if (len == 0 || i + len > n) return i;
    if (len == 1) { ++i; continue; }
    for (int k = 1; k < len; ++k) {
      if (!is_continuation(s[i + k])) return i;
    }
    const uint8_t second = s[i + 1];
    if (lead == 0xE0 && second < 0xA0) return i;   // overlong
    if (lead == 0xED && second > 0x9F) return i;   // UTF-16 surrogate
    if (lead == 0xF0 && second < 0x90) return i;   // overlong
    if (lead == 0xF4 && second > 0x8F) return i;   // past U+10FFFF
    i += len;
  }
  return std::nullopt;
}

size_t complete_prefix_length(std::string_view text) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  // An incomplete sequence is at most 3 bytes long: look back that far for a lead byte.
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const uint8_t b = s[n - back];
    if (is_continuation(b)) continue;
    const int len = sequence_length(b);
    return (len > static_cast<int>(back)) ? n - back : n;
  }
  return n;
}

}  // namespace dsgw::utf8
