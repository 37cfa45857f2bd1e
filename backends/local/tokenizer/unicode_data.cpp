#include "backends/local/tokenizer/unicode_data.h"

#include <algorithm>
#include <array>
#include <memory>

namespace dsgw::local::unicode {
namespace {

// Binary search over sorted, disjoint ranges; `fallback` when cp is in none.
uint8_t range_value(std::span<const CodePointRange> ranges, char32_t cp, uint8_t fallback) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), cp,
                             [](char32_t c, const CodePointRange& r) { return c < r.first; });
  if (it == ranges.begin()) return fallback;
  --it;
  return cp <= it->last ? it->value : fallback;
}

bool in_ranges(std::span<const CodePointRange> ranges, char32_t cp) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), cp,
                             [](char32_t c, const CodePointRange& r) { return c < r.first; });
  return it != ranges.begin() && cp <= std::prev(it)->last;
}

// The Basic Multilingual Plane's classes expanded once into a flat table, so
// that the pre-tokenizer's hot loop does one load per code point; the source
// stays compact ranges.
constexpr char32_t kBmpSize = 0x10000;

const std::array<uint8_t, kBmpSize>& bmp_classes() {
  static const std::unique_ptr<std::array<uint8_t, kBmpSize>> table = [] {
    auto t = std::make_unique<std::array<uint8_t, kBmpSize>>();
    t->fill(kClassOther);
    for (const CodePointRange& r : char_class_ranges()) {
      if (r.first >= kBmpSize) break;
      const char32_t last = std::min<char32_t>(r.last, kBmpSize - 1);
      for (char32_t c = r.first; c <= last; ++c) (*t)[c] = r.value;
    }
    return t;
  }();
  return *table;
}

}  // namespace

CharClass char_class(char32_t cp) {
  if (cp < kBmpSize) return static_cast<CharClass>(bmp_classes()[cp]);
  return static_cast<CharClass>(range_value(char_class_ranges(), cp, kClassOther));
}

bool is_assigned(char32_t cp) { return in_ranges(assigned_ranges(), cp); }

uint8_t combining_class(char32_t cp) {
  if (cp < 0x300) return 0;
  return range_value(combining_class_ranges(), cp, 0);
}

std::span<const char32_t> canonical_decomposition(char32_t cp) {
  if (cp < 0xC0) return {};
  const auto entries = decompositions();
  auto it = std::lower_bound(entries.begin(), entries.end(), cp,
                             [](const DecompositionEntry& e, char32_t c) { return e.code_point < c; });
  if (it == entries.end() || it->code_point != cp) return {};
  return decomposition_data().subspan(it->offset, it->length);
}

char32_t compose(char32_t first, char32_t second) {
  const auto entries = compositions();
  auto it = std::lower_bound(entries.begin(), entries.end(), std::pair{first, second},
                             [](const CompositionEntry& e, const std::pair<char32_t, char32_t>& k) {
                               return e.first != k.first ? e.first < k.first : e.second < k.second;
                             });
  if (it == entries.end() || it->first != first || it->second != second) return 0;
  return it->composite;
}

QuickCheck nfc_quick_check(char32_t cp) {
  if (cp < 0x300) return QuickCheck::kYes;
  return static_cast<QuickCheck>(range_value(nfc_quick_check_ranges(), cp, 0));
}

}  // namespace dsgw::local::unicode
