#include "common/json_escape.h"

#include "common/utf8.h"

namespace dsgw {

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    // Printable ASCII other than quote and backslash goes out as it is, a run at a time.
    size_t run = i;
    while (run < text.size()) {
      const auto b = static_cast<unsigned char>(text[run]);
      if (b < 0x20 || b >= 0x7F || b == '"' || b == '\\') break;
      ++run;
    }
    out.append(text.data() + i, run - i);
    i = run;
    if (i == text.size()) break;
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      // Copy a valid multi-byte sequence whole; replace anything else.
      const size_t rest = text.size() - i;
      const size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      if (len <= rest && utf8::is_valid(text.substr(i, len))) {
        out.append(text.substr(i, len));
        i += len;
      } else {
        out.append("\\ufffd");
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out.append("\\u00");
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

void append_string_array(std::string& out, const std::vector<std::string_view>& items) {
  out.push_back('[');
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.push_back(',');
    append_json_string(out, items[i]);
  }
  out.push_back(']');
}

}  // namespace dsgw
