// Internal to the detector: one scan over one text. The main loop (detector.cpp) looks only at
// the bytes that can start a match: the first byte of an ASCII word, and '+', '@', ':', '-' and
// 0xEF (full-width forms). Matchers live in numbers.cpp (cards, IDs, mobiles, phones, IBANs),
// network.cpp (email, IPv4, IPv6) and secrets.cpp (keys, tokens, PEM). Every matcher does bounded
// work per start position, or remembers where a failed attempt ended, so a scan is linear.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "policies/pii/pii_type.h"

namespace dsgw::policies::pii::detail {

enum CharClass : uint8_t {
  kDigit = 1,
  kUpper = 2,
  kLower = 4,
  kHex = 8,
  kEmailLocal = 16,  // [A-Za-z0-9._%+-]
  kB64Url = 32,      // [A-Za-z0-9_-]
  kLabel = 64,       // [A-Za-z0-9-], a domain label
};

constexpr std::array<uint8_t, 256> make_classes() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    uint8_t k = 0;
    const bool digit = c >= '0' && c <= '9';
    const bool upper = c >= 'A' && c <= 'Z';
    const bool lower = c >= 'a' && c <= 'z';
    if (digit) k |= kDigit;
    if (upper) k |= kUpper;
    if (lower) k |= kLower;
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) k |= kHex;
    if (digit || upper || lower || c == '.' || c == '_' || c == '%' || c == '+' || c == '-') k |= kEmailLocal;
    if (digit || upper || lower || c == '_' || c == '-') k |= kB64Url;
    if (digit || upper || lower || c == '-') k |= kLabel;
    t[static_cast<size_t>(c)] = k;
  }
  return t;
}
inline constexpr std::array<uint8_t, 256> kClass = make_classes();

inline bool has(uint8_t c, uint8_t cls) { return (kClass[c] & cls) != 0; }
inline bool is_digit(uint8_t c) { return has(c, kDigit); }
inline bool is_alpha(uint8_t c) { return has(c, kUpper | kLower); }
inline bool is_alnum(uint8_t c) { return has(c, kDigit | kUpper | kLower); }

// How digits are separated inside a grouped number. kSpace is one space-like character (ASCII,
// U+00A0, U+3000); kWideSpace two or three ASCII spaces and kTab one tab, as in pasted tables
// (cards only); a number may mix kSpace and kWideSpace (one sep_family).
enum class Sep : uint8_t { kNone, kSpace, kDash, kNewline, kWideSpace, kTab };

inline Sep sep_family(Sep s) { return s == Sep::kWideSpace ? Sep::kSpace : s; }

// A match: [begin, end) in bytes; end == 0 means none.
struct Match {
  PiiType type{};
  size_t begin = 0;
  size_t end = 0;
  explicit operator bool() const { return end != 0; }
};

// Up to six digit groups read from the text (ASCII and full-width digits), e.g. "4111 1111 ...".
struct DigitGroups {
  static constexpr int kMaxDigits = 64;
  static constexpr int kMaxGroups = 6;
  struct Group {
    size_t begin;
    size_t end;  // byte just past the group's last digit
    int first;   // index of its first digit in `d`
    int len;     // digits in the group (may exceed what `d` holds when > 19)
    Sep sep_after;
  };
  char d[kMaxDigits];  // ASCII digits, in order
  int count = 0;
  Group g[kMaxGroups];
  int ngroups = 0;

  std::string_view digits(int first, int len) const { return {d + first, static_cast<size_t>(len)}; }
};

class Scanner {
 public:
  Scanner(std::string_view text, std::vector<Finding>& out)
      : p_(reinterpret_cast<const uint8_t*>(text.data())), n_(text.size()), out_(out) {}

  void run();

 private:
  // ---- text access (detector.cpp, inline helpers) ----
  uint8_t at(size_t i) const { return i < n_ ? p_[i] : 0; }
  // Byte length of the digit at i (1 ASCII, 3 full-width U+FF10..FF19), 0 if none.
  int digit_at(size_t i, int* value) const {
    const uint8_t c = at(i);
    if (is_digit(c)) {
      *value = c - '0';
      return 1;
    }
    if (c == 0xEF && at(i + 1) == 0xBC && at(i + 2) >= 0x90 && at(i + 2) <= 0x99) {
      *value = at(i + 2) - 0x90;
      return 3;
    }
    return 0;
  }
  bool digit_at(size_t i) const {
    int v;
    return digit_at(i, &v) != 0;
  }
  // A full-width digit or Latin letter (U+FF10..19, U+FF21..3A, U+FF41..5A) at i.
  bool fullwidth_alnum_at(size_t i) const {
    if (at(i) != 0xEF) return false;
    const uint8_t b1 = at(i + 1), b2 = at(i + 2);
    if (b1 == 0xBC) return (b2 >= 0x90 && b2 <= 0x99) || (b2 >= 0xA1 && b2 <= 0xBA);
    return b1 == 0xBD && b2 >= 0x81 && b2 <= 0x9A;
  }
  bool alnum_at(size_t i) const { return is_alnum(at(i)) || fullwidth_alnum_at(i); }
  bool alnum_before(size_t i) const {
    if (i == 0) return false;
    return is_alnum(p_[i - 1]) || (i >= 3 && fullwidth_alnum_at(i - 3));
  }
  // Where a number may start: no letter or digit before it, and not the fraction of a decimal.
  bool number_left_ok(size_t s) const {
    if (alnum_before(s)) return false;
    return !(s >= 2 && p_[s - 1] == '.' && is_digit(p_[s - 2]));
  }
  // Where a number may end: no letter or digit after it, and not "123.45".
  bool number_right_ok(size_t e) const {
    if (alnum_at(e)) return false;
    return !(at(e) == '.' && digit_at(e + 1));
  }

  void emit(const Match& m);

  // ---- detector.cpp ----
  size_t on_word(size_t ws, size_t we);
  size_t on_special(size_t i);

  // ---- numbers.cpp ----
  size_t sep_at(size_t i, Sep* kind) const;
  void read_groups(size_t pos, DigitGroups& dg) const;
  bool digit_group_before(size_t s, Sep kind) const;
  size_t x_at(size_t i) const;  // 'X'/'x' or full-width, its byte length
  Match match_number(size_t s) const;
  Match match_resident_id(size_t s, const DigitGroups& dg) const;
  Match match_mobile(size_t s, const DigitGroups& dg) const;
  size_t mobile_344(const DigitGroups& dg, int i) const;
  Match match_card(size_t s, const DigitGroups& dg) const;
  Match match_phone(size_t s, size_t plus_len) const;
  Match match_iban(size_t ws, size_t we) const;

  // ---- network.cpp ----
  Match match_ipv4(size_t s) const;
  size_t ipv4_end(size_t s) const;  // end of a dotted quad at s, 0 if none (no boundary checks)
  Match match_ipv6(size_t s) const;
  Match match_email(size_t at_sign) const;
  size_t idn_char_at(size_t i) const;      // a non-ASCII letter of a UTF-8 address, its length
  size_t idn_char_before(size_t i) const;  // the same, ending at i

  // ---- secrets.cpp ----
  Match match_aws(size_t ws, size_t we) const;
  Match match_google_key(size_t ws) const;
  Match match_github(size_t ws) const;
  Match match_sk_key(size_t ws);
  Match match_jwt(size_t ws);
  Match match_pem(size_t s);
  size_t find_pem_end(size_t from);

  const uint8_t* p_;
  size_t n_;
  std::vector<Finding>& out_;

  // Failed attempts whose outcome is the same for every later start before these positions.
  size_t sk_fail_until_ = 0;
  size_t jwt_fail_until_ = 0;
  // "-----END " search cache: the first one at or after the last query (when valid), and how far
  // the text is known to hold none.
  size_t pem_end_found_ = 0;
  size_t pem_end_clean_to_ = 0;
  bool pem_end_valid_ = false;
};

}  // namespace dsgw::policies::pii::detail
