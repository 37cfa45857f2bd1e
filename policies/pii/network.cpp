// Network identifiers: email addresses, IPv4 and IPv6 addresses.
#include <cstdint>

#include "policies/pii/scanner.h"

namespace dsgw::policies::pii::detail {

namespace {

constexpr size_t kMaxLocalPart = 64;
constexpr size_t kMaxDomain = 253;
constexpr size_t kMaxLabel = 63;

bool is_ident(uint8_t c) { return is_alnum(c) || c == '_'; }

}  // namespace

// Four decimal octets 0-255 without leading zeros, joined by dots. Returns the end, or 0.
size_t Scanner::ipv4_end(size_t s) const {
  size_t pos = s;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (at(pos) != '.') return 0;
      ++pos;
    }
    int value = 0;
    int len = 0;
    while (len < 4 && is_digit(at(pos + static_cast<size_t>(len)))) {
      value = value * 10 + (at(pos + static_cast<size_t>(len)) - '0');
      ++len;
    }
    if (len == 0 || len > 3 || value > 255 || (len > 1 && at(pos) == '0')) return 0;
    pos += static_cast<size_t>(len);
  }
  return pos;
}

// A dotted quad standing alone: not inside 1.2.3.4.5, not glued to letters.
Match Scanner::match_ipv4(size_t s) const {
  if (!number_left_ok(s)) return {};
  const size_t e = ipv4_end(s);
  if (e == 0 || !number_right_ok(e)) return {};
  return {PiiType::kIpv4, s, e};
}

// Full (8 groups), compressed ("::" once, at most 7 groups) and IPv4-suffixed forms. To keep
// times (12:30:45), MAC-like runs and C++ scopes (std::string, a::b) out it needs "::" or 8
// groups, at least one decimal digit, and no identifier character or ':' glued on either side;
// "x[1::2]" (a slice after an identifier) is not an address.
Match Scanner::match_ipv6(size_t s) const {
  if (s > 0) {
    const uint8_t prev = p_[s - 1];
    if (is_ident(prev) || prev == ':' || prev == '.' || alnum_before(s)) return {};
    if (prev == '[' && s >= 2) {
      const uint8_t pp = p_[s - 2];
      if (is_ident(pp) || pp == ']' || pp == ')') return {};
    }
  }
  size_t pos = s;
  int groups = 0;
  bool compressed = false;
  bool digit = false;
  if (at(pos) == ':') {
    if (at(pos + 1) != ':') return {};
    compressed = true;
    pos += 2;
  }
  for (;;) {
    const size_t g = pos;
    int h = 0;
    while (h < 5 && has(at(pos), kHex)) {
      digit |= is_digit(at(pos));
      ++pos;
      ++h;
    }
    if (h == 0) break;  // after "::" with nothing more
    if (h > 4) return {};
    if (at(pos) == '.') {  // an IPv4 tail takes two groups and ends the address
      if (groups > (compressed ? 5 : 6)) return {};
      const size_t e = ipv4_end(g);
      if (e == 0) return {};
      groups += 2;
      pos = e;
      break;
    }
    if (++groups > 8) return {};
    if (at(pos) == ':' && at(pos + 1) == ':') {
      if (compressed) return {};
      compressed = true;
      pos += 2;
      continue;
    }
    if (at(pos) == ':' && has(at(pos + 1), kHex)) {
      ++pos;
      continue;
    }
    break;
  }
  if (!digit || groups > 8 || (compressed ? groups > 7 : groups != 8)) return {};
  if (is_ident(at(pos)) || alnum_at(pos) || (at(pos) == '.' && is_digit(at(pos + 1)))) return {};
  if (at(pos) == ':' && at(pos + 1) == ':') return {};
  return {PiiType::kIpv6, s, pos};
}

// A character of an internationalised address (RFC 6531 local part, IDNA label) at i: a
// well-formed UTF-8 sequence of a letter-like code point. Not Latin-1 punctuation or NBSP, × ÷,
// general punctuation and symbols (U+2000..2BFF, U+2E00..2E7F), CJK punctuation and U+3000
// (U+3000..303F: 。 ends an address), vertical, compatibility and small forms (U+FE10..FE6F),
// full-width forms other than letters and digits, specials, nor 4-byte ones outside the CJK
// extension planes (no emoji). Returns its byte length, 0 if none.
size_t Scanner::idn_char_at(size_t i) const {
  const uint8_t c = at(i);
  uint32_t cp;
  size_t len;
  if (c >= 0xC2 && c <= 0xDF) {
    cp = c & 0x1Fu;
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    cp = c & 0x0Fu;
    len = 3;
  } else if (c >= 0xF0 && c <= 0xF4) {
    cp = c & 0x07u;
    len = 4;
  } else {
    return 0;
  }
  if (i + len > n_) return 0;
  for (size_t k = 1; k < len; ++k) {
    const uint8_t b = p_[i + k];
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if ((len == 3 && cp < 0x800) || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;  // overlong, surrogate
  if (len == 4) return cp >= 0x20000 && cp <= 0x3FFFF ? 4 : 0;
  if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7) return 0;
  if ((cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x2E00 && cp <= 0x2E7F) || (cp >= 0x3000 && cp <= 0x303F)) {
    return 0;
  }
  if (cp >= 0xFE10 && cp <= 0xFE6F) return 0;
  if (cp >= 0xFEFF) {  // BOM, full-width and half-width forms, specials
    const bool fw_alnum = (cp >= 0xFF10 && cp <= 0xFF19) || (cp >= 0xFF21 && cp <= 0xFF3A) ||
                          (cp >= 0xFF41 && cp <= 0xFF5A) || (cp >= 0xFF66 && cp <= 0xFFDC);
    return fw_alnum ? len : 0;
  }
  return len;
}

size_t Scanner::idn_char_before(size_t i) const {
  for (size_t len = 2; len <= 4 && len <= i; ++len) {
    if (p_[i - len] >= 0xC2 && idn_char_at(i - len) == len) return len;
  }
  return 0;
}

// at_sign: an '@'. local@domain.tld: a local part of [A-Za-z0-9._%+-] and non-ASCII letters
// (idn_char_at; 1-64 bytes, no leading or trailing dot), then two or more labels, the last a
// top-level domain. A label is [A-Za-z0-9-] and non-ASCII letters, not starting or ending with
// '-'. As CJK prose puts no space around an address ("邮箱zhang@qq.com谢谢"), a local part or
// label read from an ASCII character takes only two-byte UTF-8 letters (müller@bücher.de), not
// CJK ones; and a label that starts non-ASCII ends after 63 bytes instead of failing. The
// top-level domain is two or more letters, two or more characters starting non-ASCII (中国), or
// punycode (xn--fiqs8s).
Match Scanner::match_email(size_t at_sign) const {
  const bool utf8_local = at_sign > 0 && p_[at_sign - 1] >= 0x80;
  size_t ls = at_sign;
  while (ls > 0 && at_sign - ls < kMaxLocalPart) {
    const uint8_t c = p_[ls - 1];
    if (has(c, kEmailLocal)) {
      --ls;
      continue;
    }
    if (c < 0x80) break;
    const size_t w = idn_char_before(ls);
    if (w == 0 || (!utf8_local && w > 2) || at_sign - ls + w > kMaxLocalPart) break;
    ls -= w;
  }
  while (ls < at_sign && p_[ls] == '.') ++ls;
  if (ls == at_sign || p_[at_sign - 1] == '.') return {};
  size_t pos = at_sign + 1;
  int labels = 0;
  bool tld_ok = false;
  for (;;) {
    const size_t lb = pos;
    const bool utf8 = at(lb) >= 0x80;
    bool letters = true;
    int chars = 0;
    for (;;) {
      const uint8_t c = at(pos);
      const size_t w = has(c, kLabel) ? 1 : c >= 0x80 ? idn_char_at(pos) : 0;
      if (w == 0 || (!utf8 && w > 2)) break;
      if (pos + w - lb > kMaxLabel) {
        if (utf8) break;
        return {};
      }
      letters &= w > 1 || is_alpha(c);
      pos += w;
      ++chars;
    }
    const size_t len = pos - lb;
    if (len == 0 || p_[lb] == '-' || p_[pos - 1] == '-') return {};
    ++labels;
    tld_ok = ((utf8 || letters) && chars >= 2) ||
             (len >= 7 && (p_[lb] | 0x20) == 'x' && (p_[lb + 1] | 0x20) == 'n' && p_[lb + 2] == '-' &&
              p_[lb + 3] == '-');
    if (pos - at_sign > kMaxDomain) return {};
    if (at(pos) == '.' && (has(at(pos + 1), kLabel) || idn_char_at(pos + 1) != 0)) {
      ++pos;
      continue;
    }
    break;
  }
  if (labels < 2 || !tld_ok) return {};
  return {PiiType::kEmail, ls, pos};
}

}  // namespace dsgw::policies::pii::detail
