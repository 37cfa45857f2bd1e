// GPT-2's byte-level alphabet: each of the 256 byte values is shown as one
// printable code point (printable ASCII and Latin-1 stand for themselves, the
// rest map to U+0100 and up), so that BPE vocabularies are valid text. HF's
// ByteLevel pre-tokenizer and decoder use it; vocab entries are spelt in it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dsgw::local {

// The code point that stands for `byte`.
char32_t byte_to_code_point(uint8_t byte);

// Appends the byte-level spelling of `bytes` (UTF-8 encoded) to `out`.
void byte_level_encode(std::string_view bytes, std::string& out);

// The bytes a byte-level token spells, or nullopt when `token` is not valid
// UTF-8 or holds a code point outside the alphabet (e.g. an added token's
// content such as "<think>" is fine, "<｜User｜>" is not).
std::optional<std::string> byte_level_decode(std::string_view token);

}  // namespace dsgw::local
