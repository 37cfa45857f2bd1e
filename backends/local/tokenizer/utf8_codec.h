// UTF-8 decoding, validation and repair for the tokenizer. Self-contained so
// that the engine builds without the gateway's common library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dsgw::local::utf8 {

inline constexpr char32_t kReplacementChar = 0xFFFD;

// Byte offset of the first invalid UTF-8 sequence in `text` (overlong forms,
// surrogates, code points past U+10FFFF and truncated sequences are invalid),
// or nullopt when all of `text` is valid.
std::optional<size_t> first_invalid(std::string_view text);

inline bool is_valid(std::string_view text) { return !first_invalid(text).has_value(); }

// Length of the valid sequence starting at text[pos], or 0 when the bytes
// there are not a complete valid sequence.
size_t valid_sequence_length(std::string_view text, size_t pos);

// Decodes the code point at text[pos], which must start a valid sequence;
// sets `length` to its byte length.
inline char32_t decode(std::string_view text, size_t pos, size_t& length) {
  const auto b0 = static_cast<unsigned char>(text[pos]);
  if (b0 < 0x80) {
    length = 1;
    return b0;
  }
  if (b0 < 0xE0) {
    length = 2;
    return ((b0 & 0x1Fu) << 6) | (static_cast<unsigned char>(text[pos + 1]) & 0x3Fu);
  }
  if (b0 < 0xF0) {
    length = 3;
    return ((b0 & 0x0Fu) << 12) | ((static_cast<unsigned char>(text[pos + 1]) & 0x3Fu) << 6) |
           (static_cast<unsigned char>(text[pos + 2]) & 0x3Fu);
  }
  length = 4;
  return ((b0 & 0x07u) << 18) | ((static_cast<unsigned char>(text[pos + 1]) & 0x3Fu) << 12) |
         ((static_cast<unsigned char>(text[pos + 2]) & 0x3Fu) << 6) |
         (static_cast<unsigned char>(text[pos + 3]) & 0x3Fu);
}

inline void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Appends `bytes` to `out`, replacing each maximal invalid subpart with U+FFFD
// (the W3C/Unicode "substitution of maximal subparts" practice, as Rust's
// String::from_utf8_lossy does, which HF tokenizers' decoders use).
void append_lossy(std::string& out, std::string_view bytes);

// Length of the longest prefix of `bytes` that does not end inside a sequence
// that could still become valid with more bytes. The rest (at most 3 bytes)
// is the start of a character whose remaining bytes have not arrived yet.
size_t stable_prefix_length(std::string_view bytes);

}  // namespace dsgw::local::utf8
