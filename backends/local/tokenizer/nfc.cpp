#include "backends/local/tokenizer/nfc.h"

#include <cstdint>
#include <vector>

#include "backends/local/tokenizer/unicode_data.h"
#include "backends/local/tokenizer/utf8_codec.h"

namespace dsgw::local {
namespace {

// Hangul syllable arithmetic (Unicode chapter 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr char32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

void decompose(char32_t cp, std::vector<char32_t>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const char32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    return;
  }
  const auto d = unicode::canonical_decomposition(cp);
  if (d.empty()) {
    out.push_back(cp);
  } else {
    out.insert(out.end(), d.begin(), d.end());
  }
}

char32_t compose_pair(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount) {
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  }
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount) {
    return a + (b - kTBase);
  }
  return unicode::compose(a, b);
}

// Canonical ordering: a stable sort of each run of non-starters by combining
// class. Runs are short, so insertion sort.
void reorder(std::vector<char32_t>& cps) {
  std::vector<uint8_t> cls(cps.size());
  for (size_t i = 0; i < cps.size(); ++i) cls[i] = unicode::combining_class(cps[i]);
  for (size_t i = 1; i < cps.size(); ++i) {
    if (cls[i] == 0) continue;
    for (size_t j = i; j > 0 && cls[j - 1] > cls[j]; --j) {
      std::swap(cls[j - 1], cls[j]);
      std::swap(cps[j - 1], cps[j]);
    }
  }
}

void compose(std::vector<char32_t>& cps) {
  size_t out = 0;
  std::ptrdiff_t starter = -1;  // index in the output of the last starter
  int last_class = 0;           // class of the last character written after it
  for (size_t i = 0; i < cps.size(); ++i) {
    const char32_t cp = cps[i];
    const int cls = unicode::combining_class(cp);
    if (starter >= 0) {
      const bool adjacent = out == static_cast<size_t>(starter) + 1;
      // Not blocked: nothing between the starter and cp, or everything between
      // has a non-zero class lower than cp's.
      if (adjacent || (last_class != 0 && last_class < cls)) {
        const char32_t composite = compose_pair(cps[static_cast<size_t>(starter)], cp);
        if (composite != 0) {
          cps[static_cast<size_t>(starter)] = composite;
          continue;
        }
      }
    }
    if (cls == 0) starter = static_cast<std::ptrdiff_t>(out);
    cps[out++] = cp;
    last_class = cls;
  }
  cps.resize(out);
}

}  // namespace

bool is_nfc_quick_yes(std::string_view text) {
  uint8_t last_class = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    // Bytes below 0xCC start code points below U+0300: starters, always Yes.
    if (static_cast<unsigned char>(text[pos]) < 0xCC) {
      last_class = 0;
      ++pos;
      while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
      continue;
    }
    size_t len = 0;
    const char32_t cp = utf8::decode(text, pos, len);
    pos += len;
    const uint8_t cls = unicode::combining_class(cp);
    if (cls != 0 && last_class > cls) return false;
    if (unicode::nfc_quick_check(cp) != unicode::QuickCheck::kYes) return false;
    last_class = cls;
  }
  return true;
}

std::string nfc_normalize(std::string_view text) {
  if (is_nfc_quick_yes(text)) return std::string(text);
  std::vector<char32_t> cps;
  cps.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t len = 0;
    const char32_t cp = utf8::decode(text, pos, len);
    pos += len;
    decompose(cp, cps);
  }
  reorder(cps);
  compose(cps);
  std::string out;
  out.reserve(text.size() + 8);
  for (char32_t cp : cps) utf8::append(out, cp);
  return out;
}

}  // namespace dsgw::local
