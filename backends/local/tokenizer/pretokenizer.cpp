#include "backends/local/tokenizer/pretokenizer.h"

#include <cstdint>

#include "backends/local/tokenizer/unicode_data.h"
#include "backends/local/tokenizer/utf8_codec.h"

namespace dsgw::local {
namespace {

constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// What the pattern needs to know about a code point.
enum Kind : uint8_t {
  kLetter,
  kNumber,
  kNewline,     // \r or \n (white space)
  kWhiteSpace,  // any other White_Space
  kOther,       // none of \s, \p{L}, \p{N}
};

Kind kind_of(char32_t cp) {
  switch (unicode::char_class(cp)) {
    case unicode::CharClass::kLetter: return kLetter;
    case unicode::CharClass::kNumber: return kNumber;
    case unicode::CharClass::kWhiteSpace: return cp == '\r' || cp == '\n' ? kNewline : kWhiteSpace;
    case unicode::CharClass::kOther: break;
  }
  return kOther;
}

// Simple case folding restricted to the letters of the contractions: ASCII
// upper case, and U+017F LATIN SMALL LETTER LONG S, which folds to 's'.
char32_t fold(char32_t cp) {
  if (cp >= 'A' && cp <= 'Z') return cp + ('a' - 'A');
  if (cp == 0x17F) return 's';
  return cp;
}

class Splitter {
 public:
  Splitter(SplitPattern pattern, std::string_view text) : pattern_(pattern), text_(text) {
    // Decode once: code points, kinds and byte offsets.
    cps_.reserve(text.size());
    kinds_.reserve(text.size());
    offsets_.reserve(text.size() + 1);
    size_t pos = 0;
    while (pos < text.size()) {
      size_t len = 1;
      const auto b = static_cast<unsigned char>(text[pos]);
      const char32_t cp = b < 0x80 ? b : utf8::decode(text, pos, len);
      cps_.push_back(cp);
      kinds_.push_back(kind_of(cp));
      offsets_.push_back(static_cast<uint32_t>(pos));
      pos += len;
    }
    offsets_.push_back(static_cast<uint32_t>(text.size()));
  }

  void run(std::vector<std::string_view>& pieces) const {
    const size_t n = cps_.size();
    size_t i = 0;
    while (i < n) {
      const size_t j = match_at(i);
      pieces.push_back(text_.substr(offsets_[i], offsets_[j] - offsets_[i]));
      i = j;
    }
  }

 private:
  size_t run_of(size_t i, Kind kind) const {
    while (i < cps_.size() && kinds_[i] == kind) ++i;
    return i;
  }

  size_t white_space_run(size_t i) const {
    while (i < cps_.size() && (kinds_[i] == kWhiteSpace || kinds_[i] == kNewline)) ++i;
    return i;
  }

  // End (exclusive) of the leftmost-first match starting at i. Every code
  // point starts a match of some alternative, so there is always one.
  size_t match_at(size_t i) const {
    const size_t n = cps_.size();
    const char32_t c = cps_[i];
    const Kind k = kinds_[i];

    // (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if (c == '\'' && i + 1 < n) {
      const char32_t c1 = fold(cps_[i + 1]);
      if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return i + 2;
      if (i + 2 < n) {
        const char32_t c2 = fold(cps_[i + 2]);
        if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
          return i + 3;
        }
      }
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (k == kLetter) return run_of(i, kLetter);
    if (k != kNumber && k != kNewline && i + 1 < n && kinds_[i + 1] == kLetter) {
      return run_of(i + 1, kLetter);
    }
    // \p{N} or \p{N}{1,3}
    if (k == kNumber) {
      if (pattern_ == SplitPattern::kQwen2) return i + 1;
      size_t j = i + 1;
      while (j < n && j < i + 3 && kinds_[j] == kNumber) ++j;
      return j;
    }
    //  ?[^\s\p{L}\p{N}]+[\r\n]*
    if (k == kOther || (c == ' ' && i + 1 < n && kinds_[i + 1] == kOther)) {
      const size_t j = run_of(k == kOther ? i : i + 1, kOther);
      return run_of(j, kNewline);
    }
    // Only white space is left.
    const size_t end = white_space_run(i);
    // \s*[\r\n]+ : up to the last newline of the run.
    for (size_t j = end; j > i; --j) {
      if (kinds_[j - 1] == kNewline) return j;
    }
    // \s+(?!\S) : the whole run at the end of the text, else all but its last
    // character, which then starts the next piece (e.g. " word").
    if (end == n) return end;
    if (end - i >= 2) return end - 1;
    // \s+
    return end;
  }

  SplitPattern pattern_;
  std::string_view text_;
  std::vector<char32_t> cps_;
  std::vector<Kind> kinds_;
  std::vector<uint32_t> offsets_;
};

}  // namespace

Result<SplitPattern> split_pattern_from_regex(std::string_view regex) {
  if (regex == kQwen2Regex) return SplitPattern::kQwen2;
  if (regex == kLlama3Regex) return SplitPattern::kLlama3;
  return make_error(ErrorCode::kInvalidRequest,
                    "unsupported pre-tokenizer Split regex '" + std::string(regex) +
                        "' (supported: the Qwen2 and Llama-3 patterns)");
}

std::string_view split_pattern_regex(SplitPattern pattern) {
  return pattern == SplitPattern::kQwen2 ? kQwen2Regex : kLlama3Regex;
}

void pre_tokenize(SplitPattern pattern, std::string_view text, std::vector<std::string_view>& pieces) {
  if (text.empty()) return;
  Splitter(pattern, text).run(pieces);
}

}  // namespace dsgw::local
