#pragma once

#include <string>
#include <string_view>

namespace dsgw {

// Appends `text` to `out` as a JSON string literal, quotes included.
// Bytes that are not valid UTF-8 are replaced with U+FFFD.
void append_json_string(std::string& out, std::string_view text);

}  // namespace dsgw
