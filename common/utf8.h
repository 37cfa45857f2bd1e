#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace dsgw::utf8 {

// Returns the byte offset of the first invalid UTF-8 sequence in `text`
// (overlong forms, surrogates and code points past U+10FFFF are invalid),
// or nullopt when the whole text is valid.
std::optional<size_t> first_invalid(std::string_view text);

inline bool is_valid(std::string_view text) { return !first_invalid(text).has_value(); }

// Length of the longest prefix of `text` that ends on a character boundary,
// assuming `text` is valid UTF-8 except possibly for an incomplete sequence at
// its end. Streaming decoders hold back the rest until more bytes arrive.
size_t complete_prefix_length(std::string_view text);

}  // namespace dsgw::utf8
