#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dsgw {

// Appends `text` to `out` as a JSON string literal, quotes included.
// Bytes that are not valid UTF-8 are replaced with U+FFFD.
void append_json_string(std::string& out, std::string_view text);

// Appends `items` as a JSON array of strings.
void append_string_array(std::string& out, const std::vector<std::string_view>& items);

}  // namespace dsgw
