#include "backends/local/tokenizer/byte_level.h"

#include <array>

#include "backends/local/tokenizer/utf8_codec.h"

namespace dsgw::local {
namespace {

struct Tables {
  std::array<char32_t, 256> to_cp{};
  std::array<int16_t, 512> from_cp{};  // code point (< 512) -> byte, -1 if none
  std::array<std::string, 256> spelling;
};

const Tables& tables() {
  static const Tables t = [] {
    Tables r;
    r.from_cp.fill(-1);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      r.to_cp[b] = printable ? static_cast<char32_t>(b) : next++;
      r.from_cp[r.to_cp[b]] = static_cast<int16_t>(b);
      utf8::append(r.spelling[b], r.to_cp[b]);
    }
    return r;
  }();
  return t;
}

}  // namespace

char32_t byte_to_code_point(uint8_t byte) { return tables().to_cp[byte]; }

void byte_level_encode(std::string_view bytes, std::string& out) {
  const Tables& t = tables();
  for (char c : bytes) out += t.spelling[static_cast<unsigned char>(c)];
}

std::optional<std::string> byte_level_decode(std::string_view token) {
  const Tables& t = tables();
  std::string out;
  out.reserve(token.size());
  size_t pos = 0;
  while (pos < token.size()) {
    const size_t len = utf8::valid_sequence_length(token, pos);
    if (len == 0) return std::nullopt;
    size_t decoded_len = 0;
    const char32_t cp = utf8::decode(token, pos, decoded_len);
    if (cp >= t.from_cp.size() || t.from_cp[cp] < 0) return std::nullopt;
    out.push_back(static_cast<char>(t.from_cp[cp]));
    pos += len;
  }
  return out;
}

}  // namespace dsgw::local
