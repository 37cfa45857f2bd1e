#include "backends/local/tokenizer/added_tokens.h"

#include <algorithm>

#include "backends/local/tokenizer/unicode_data.h"
#include "backends/local/tokenizer/utf8_codec.h"

namespace dsgw::local {
namespace {

// Rust's char::is_alphanumeric() plus '_', as HF's single_word check uses;
// approximated by \p{L} and \p{N}.
bool is_word_char(char32_t cp) {
  const auto cls = unicode::char_class(cp);
  return cp == '_' || cls == unicode::CharClass::kLetter || cls == unicode::CharClass::kNumber;
}

// The code point that ends at `end` (exclusive) in valid UTF-8 text.
char32_t code_point_before(std::string_view text, size_t end, size_t& begin) {
  begin = end - 1;
  while (begin > 0 && (static_cast<unsigned char>(text[begin]) & 0xC0) == 0x80) --begin;
  size_t len = 0;
  return utf8::decode(text, begin, len);
}

}  // namespace

int32_t AddedTokenMatcher::child(int32_t node, unsigned char byte) const {
  const auto& children = nodes_[static_cast<size_t>(node)].children;
  auto it = std::lower_bound(children.begin(), children.end(), byte,
                             [](const auto& c, unsigned char b) { return c.first < b; });
  return it != children.end() && it->first == byte ? it->second : -1;
}

void AddedTokenMatcher::add(const AddedToken& token) {
  if (token.content.empty()) return;
  int32_t node = 0;
  for (char ch : token.content) {
    const auto byte = static_cast<unsigned char>(ch);
    int32_t next = child(node, byte);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      nodes_.emplace_back();
      auto& children = nodes_[static_cast<size_t>(node)].children;
      children.insert(std::lower_bound(children.begin(), children.end(), byte,
                                       [](const auto& c, unsigned char b) { return c.first < b; }),
                      {byte, next});
    }
    node = next;
  }
  // A later entry with the same content wins, like a map keyed by content.
  nodes_[static_cast<size_t>(node)].token = &token;
  first_bytes_.set(static_cast<unsigned char>(token.content[0]));
}

void AddedTokenMatcher::find_all(std::string_view text, std::vector<Match>& matches) const {
  size_t previous_end = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    if (!first_bytes_.test(static_cast<unsigned char>(text[pos]))) {
      ++pos;
      continue;
    }
    // Longest token starting at pos.
    const AddedToken* found = nullptr;
    size_t found_end = pos;
    int32_t node = 0;
    for (size_t i = pos; i < text.size(); ++i) {
      node = child(node, static_cast<unsigned char>(text[i]));
      if (node < 0) break;
      if (const AddedToken* t = nodes_[static_cast<size_t>(node)].token) {
        found = t;
        found_end = i + 1;
      }
    }
    // A match must start on a character boundary (valid UTF-8 guarantees its
    // end is one when its content is valid UTF-8).
    if (found == nullptr || (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) {
      ++pos;
      continue;
    }
    size_t begin = pos;
    size_t end = found_end;
    if (found->single_word) {
      size_t before = 0;
      const bool word_before = begin > 0 && is_word_char(code_point_before(text, begin, before));
      size_t len = 0;
      const bool word_after = end < text.size() && is_word_char(utf8::decode(text, end, len));
      if (word_before || word_after) {
        pos = end;  // the text it covered is not searched again
        continue;
      }
    }
    if (found->lstrip) {
      while (begin > previous_end) {
        size_t cp_begin = 0;
        if (!unicode::is_white_space(code_point_before(text, begin, cp_begin))) break;
        begin = cp_begin;
      }
    }
    if (found->rstrip) {
      while (end < text.size()) {
        size_t len = 0;
        if (!unicode::is_white_space(utf8::decode(text, end, len))) break;
        end += len;
      }
    }
    matches.push_back(Match{begin, end, found});
    previous_end = end;
    pos = end;
  }
}

}  // namespace dsgw::local
