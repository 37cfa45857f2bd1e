// Unicode property look-ups for the tokenizer, over the generated tables in
// unicode_tables.h (see tools/gen_unicode_tables.py for the Unicode version).
#pragma once

#include <cstdint>
#include <span>

#include "backends/local/tokenizer/unicode_tables.h"

namespace dsgw::local::unicode {

// The pre-tokenizer's view of a code point: \p{L}, \p{N}, \s or none of them.
enum class CharClass : uint8_t {
  kOther = kClassOther,
  kLetter = kClassLetter,
  kNumber = kClassNumber,
  kWhiteSpace = kClassWhiteSpace,
};

CharClass char_class(char32_t cp);
inline bool is_letter(char32_t cp) { return char_class(cp) == CharClass::kLetter; }
inline bool is_number(char32_t cp) { return char_class(cp) == CharClass::kNumber; }
inline bool is_white_space(char32_t cp) { return char_class(cp) == CharClass::kWhiteSpace; }

// True unless the code point's general category is Cn (unassigned) in the
// tables' Unicode version.
bool is_assigned(char32_t cp);

// Canonical combining class (0 for starters).
uint8_t combining_class(char32_t cp);

// Full canonical decomposition of `cp`, empty when it has none. Hangul
// syllables are not in the tables: callers decompose them algorithmically.
std::span<const char32_t> canonical_decomposition(char32_t cp);

// The primary composite of the pair, or 0 when they do not compose. Hangul
// is not in the tables.
char32_t compose(char32_t first, char32_t second);

enum class QuickCheck : uint8_t { kYes, kMaybe, kNo };
QuickCheck nfc_quick_check(char32_t cp);

}  // namespace dsgw::local::unicode
