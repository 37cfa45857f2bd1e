// Numbers: payment cards, Chinese resident IDs and mobiles, E.164 phones, IBANs.
#include <cstring>

#include "policies/pii/checksums.h"
#include "policies/pii/scanner.h"

namespace dsgw::policies::pii::detail {

namespace {

// A card number's issuer (IIN) must be known, and the length must be one that network issues.
bool card_iin_and_length_ok(std::string_view d) {
  const int len = static_cast<int>(d.size());
  auto prefix = [&](int k) {
    int v = 0;
    for (int i = 0; i < k; ++i) v = v * 10 + (d[static_cast<size_t>(i)] - '0');
    return v;
  };
  const int p1 = prefix(1), p2 = prefix(2), p3 = prefix(3), p4 = prefix(4);
  if (p1 == 4) return len == 13 || len == 16 || len == 19;                          // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return len == 16;       // Mastercard
  if (p2 == 34 || p2 == 37) return len == 15;                                       // Amex
  if (p2 == 62) return len >= 16;                                                   // UnionPay
  if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649)) return len >= 16;         // Discover
  if (p4 >= 3528 && p4 <= 3589) return len >= 16;                                   // JCB
  if (p2 == 36 || p2 == 38 || p2 == 39 || (p3 >= 300 && p3 <= 305) || p3 == 309) {  // Diners
    return len >= 14;
  }
  return false;
}

bool card_valid(std::string_view d) {
  return d.size() >= 13 && d.size() <= 19 && card_iin_and_length_ok(d) && luhn_valid(d);
}

// 1[3-9] and nine more digits.
bool mobile_digits(const DigitGroups& dg, int first) { return dg.d[first] == '1' && dg.d[first + 1] >= '3'; }

bool same_line_sep(Sep a, Sep b) { return a == b && (a == Sep::kSpace || a == Sep::kDash); }

}  // namespace

// A separator inside a grouped number: one space or dash (ASCII, U+00A0, U+3000, U+FF0D), two or
// three ASCII spaces, one tab, or a line break ("\n", "\r\n", optionally after one space)
// followed by up to 16 spaces or tabs. Four or more spaces part columns, not groups.
size_t Scanner::sep_at(size_t i, Sep* kind) const {
  size_t len = 0;
  switch (at(i)) {
    case ' ': {
      if (at(i + 1) == '\n' || (at(i + 1) == '\r' && at(i + 2) == '\n')) {
        len = at(i + 1) == '\n' ? 2 : 3;
        break;
      }
      size_t k = 1;
      while (k < 4 && at(i + k) == ' ') ++k;
      if (k == 4) return 0;
      *kind = k == 1 ? Sep::kSpace : Sep::kWideSpace;
      return k;
    }
    case '\t':
      *kind = Sep::kTab;
      return 1;
    case '-':
      *kind = Sep::kDash;
      return 1;
    case '\n':
      len = 1;
      break;
    case '\r':
      if (at(i + 1) != '\n') return 0;
      len = 2;
      break;
    case 0xC2:
      if (at(i + 1) != 0xA0) return 0;
      *kind = Sep::kSpace;
      return 2;
    case 0xE3:
      if (at(i + 1) != 0x80 || at(i + 2) != 0x80) return 0;
      *kind = Sep::kSpace;
      return 3;
    case 0xEF:
      if (at(i + 1) != 0xBC || at(i + 2) != 0x8D) return 0;
      *kind = Sep::kDash;
      return 3;
    default:
      return 0;
  }
  for (int k = 0; k < 16 && (at(i + len) == ' ' || at(i + len) == '\t'); ++k) ++len;
  *kind = Sep::kNewline;
  return len;
}

// Reads digit groups from pos: stops at a group of more than 19 digits, after six groups or 24
// digits, or where the next separator is missing, not followed by a digit, or of another kind than
// the first (a line break may stand in for any separator; one to three spaces are one kind).
void Scanner::read_groups(size_t pos, DigitGroups& dg) const {
  const uint8_t* const p = p_;  // locals: the digit stores below may alias members
  const size_t n = n_;
  char* const d = dg.d;
  int count = dg.count;
  Sep fixed = Sep::kNone;
  for (;;) {
    DigitGroups::Group& g = dg.g[dg.ngroups++];
    g.begin = pos;
    g.first = count;
    int len = 0;
    while (pos < n) {
      const uint8_t c = p[pos];
      int v;
      if (is_digit(c)) {
        v = c - '0';
        ++pos;
      } else if (c == 0xEF && pos + 2 < n && p[pos + 1] == 0xBC && p[pos + 2] >= 0x90 && p[pos + 2] <= 0x99) {
        v = p[pos + 2] - 0x90;
        pos += 3;
      } else {
        break;
      }
      if (count < DigitGroups::kMaxDigits) d[count++] = static_cast<char>('0' + v);
      ++len;
    }
    g.len = len;
    g.end = pos;
    g.sep_after = Sep::kNone;
    dg.count = count;
    if (len > 19 || dg.ngroups == DigitGroups::kMaxGroups || count >= 24) return;
    Sep kind = Sep::kNone;
    const size_t sl = sep_at(pos, &kind);
    if (sl == 0 || !digit_at(pos + sl)) return;
    if (kind != Sep::kNewline) {
      if (fixed == Sep::kNone) {
        fixed = sep_family(kind);
      } else if (sep_family(kind) != fixed) {
        return;
      }
    }
    g.sep_after = kind;
    pos += sl;
  }
}

// Four or more digits, then a separator of `kind`'s family (any same-line one for kNewline), right
// before s: s is inside a longer run of digit groups (a table of numbers), not at the start of one.
bool Scanner::digit_group_before(size_t s, Sep kind) const {
  size_t k = s;
  Sep before = Sep::kNone;
  if (k >= 1 && p_[k - 1] == ' ') {
    size_t spaces = 1;
    while (spaces < 4 && k > spaces && p_[k - 1 - spaces] == ' ') ++spaces;
    if (spaces == 4) return false;  // a column apart
    before = Sep::kSpace;
    k -= spaces;
  } else if (k >= 1 && (p_[k - 1] == '-' || p_[k - 1] == '\t')) {
    before = p_[k - 1] == '-' ? Sep::kDash : Sep::kTab;
    k -= 1;
  } else if (k >= 3 && p_[k - 3] == 0xE3 && p_[k - 2] == 0x80 && p_[k - 1] == 0x80) {
    before = Sep::kSpace;
    k -= 3;
  } else if (k >= 3 && p_[k - 3] == 0xEF && p_[k - 2] == 0xBC && p_[k - 1] == 0x8D) {
    before = Sep::kDash;
    k -= 3;
  } else if (k >= 2 && p_[k - 2] == 0xC2 && p_[k - 1] == 0xA0) {
    before = Sep::kSpace;
    k -= 2;
  } else {
    return false;
  }
  if (kind != Sep::kNewline && before != sep_family(kind)) return false;
  int digits = 0;
  while (digits < 4) {
    if (k >= 1 && is_digit(p_[k - 1])) {
      k -= 1;
    } else if (k >= 3 && p_[k - 3] == 0xEF && p_[k - 2] == 0xBC && p_[k - 1] >= 0x90 && p_[k - 1] <= 0x99) {
      k -= 3;
    } else {
      break;
    }
    ++digits;
  }
  return digits >= 4;
}

size_t Scanner::x_at(size_t i) const {
  const uint8_t c = at(i);
  if (c == 'X' || c == 'x') return 1;
  if (c == 0xEF && ((at(i + 1) == 0xBC && at(i + 2) == 0xB8) || (at(i + 1) == 0xBD && at(i + 2) == 0x98))) {
    return 3;
  }
  return 0;
}

// s: the first digit, at a number boundary (number_left_ok).
Match Scanner::match_number(size_t s) const {
  DigitGroups dg;
  read_groups(s, dg);
  if (Match m = match_resident_id(s, dg)) return m;
  if (Match m = match_mobile(s, dg)) return m;
  return match_card(s, dg);
}

// 18 digits, 17 digits + X, or 6-8-4 / 6-8-3+X groups.
Match Scanner::match_resident_id(size_t s, const DigitGroups& dg) const {
  const auto& g0 = dg.g[0];
  char id[18];
  if (g0.len == 18) {
    if (number_right_ok(g0.end) && cn_resident_id_valid(dg.digits(g0.first, 18))) {
      return {PiiType::kCnResidentId, s, g0.end};
    }
    return {};
  }
  if (g0.len == 17) {
    const size_t xl = x_at(g0.end);
    if (xl == 0 || !number_right_ok(g0.end + xl)) return {};
    std::memcpy(id, dg.d + g0.first, 17);
    id[17] = 'X';
    if (cn_resident_id_valid({id, 18})) return {PiiType::kCnResidentId, s, g0.end + xl};
    return {};
  }
  if (dg.ngroups < 3 || g0.len != 6 || dg.g[1].len != 8 || !same_line_sep(g0.sep_after, dg.g[1].sep_after)) {
    return {};
  }
  const auto& g2 = dg.g[2];
  std::memcpy(id, dg.d + g0.first, 14);
  if (g2.len == 4) {
    if (!number_right_ok(g2.end)) return {};
    std::memcpy(id + 14, dg.d + g2.first, 4);
    if (cn_resident_id_valid({id, 18})) return {PiiType::kCnResidentId, s, g2.end};
  } else if (g2.len == 3) {
    const size_t xl = x_at(g2.end);
    if (xl == 0 || !number_right_ok(g2.end + xl)) return {};
    std::memcpy(id + 14, dg.d + g2.first, 3);
    id[17] = 'X';
    if (cn_resident_id_valid({id, 18})) return {PiiType::kCnResidentId, s, g2.end + xl};
  }
  return {};
}

// Groups i..i+2 read 1[3-9]x xxxx xxxx with one kind of same-line separator: the end, or 0.
size_t Scanner::mobile_344(const DigitGroups& dg, int i) const {
  if (dg.ngroups < i + 3) return 0;
  const auto& a = dg.g[i];
  const auto& b = dg.g[i + 1];
  const auto& c = dg.g[i + 2];
  if (a.len != 3 || b.len != 4 || c.len != 4 || !same_line_sep(a.sep_after, b.sep_after)) return 0;
  if (!mobile_digits(dg, a.first) || !number_right_ok(c.end)) return 0;
  return c.end;
}

// 11 digits 1[3-9]..., compact or 3-4-4, optionally after 86 / 0086 (glued, or one space/dash).
Match Scanner::match_mobile(size_t s, const DigitGroups& dg) const {
  const auto& g0 = dg.g[0];
  const std::string_view d0 = g0.len <= 19 ? dg.digits(g0.first, g0.len) : std::string_view();
  auto mobile = [&](size_t end) { return Match{PiiType::kCnMobile, s, end}; };
  if ((g0.len == 11 && mobile_digits(dg, 0)) ||
      (g0.len == 13 && d0.starts_with("86") && mobile_digits(dg, 2)) ||
      (g0.len == 15 && d0.starts_with("0086") && mobile_digits(dg, 4))) {
    return number_right_ok(g0.end) ? mobile(g0.end) : Match{};
  }
  if (size_t e = mobile_344(dg, 0)) return mobile(e);
  if ((d0 == "86" || d0 == "0086") && dg.ngroups >= 2 &&
      (g0.sep_after == Sep::kSpace || g0.sep_after == Sep::kDash)) {
    const auto& g1 = dg.g[1];
    if (g1.len == 11 && mobile_digits(dg, g1.first) && number_right_ok(g1.end)) return mobile(g1.end);
    if (size_t e = mobile_344(dg, 1)) return mobile(e);
  }
  return {};
}

// 13-19 digits: compact, or groups where all but the last have 4-6 digits (4-4-4-4, 4-6-5,
// 4-4-4-4-3, ...). Tries the longest run of groups first. A grouped card must not sit inside a
// longer run of such groups on the same line (a table of 4-digit numbers), though a short group
// may follow it (a CVV, a count).
Match Scanner::match_card(size_t s, const DigitGroups& dg) const {
  const auto& g0 = dg.g[0];
  if (g0.len >= 13 && g0.len <= 19) {
    if (number_right_ok(g0.end) && card_valid(dg.digits(g0.first, g0.len))) {
      return {PiiType::kCreditCard, s, g0.end};
    }
    return {};
  }
  int full = 0;  // leading groups of 4-6 digits
  while (full < dg.ngroups && dg.g[full].len >= 4 && dg.g[full].len <= 6) ++full;
  if (full == 0 || dg.ngroups < 2 || digit_group_before(s, g0.sep_after)) return {};
  const int last_max = full < dg.ngroups ? full : dg.ngroups - 1;
  for (int j = last_max; j >= 1; --j) {
    const auto& gj = dg.g[j];
    if (gj.len < 1 || gj.len > 6) continue;
    const int total = gj.first + gj.len;
    if (total < 13 || total > 19 || !number_right_ok(gj.end)) continue;
    if (j + 1 < dg.ngroups && gj.sep_after != Sep::kNewline && dg.g[j + 1].len >= 4) continue;
    if (card_valid(dg.digits(0, total))) return {PiiType::kCreditCard, s, gj.end};
  }
  return {};
}

// s: '+' (plus_len 1) or U+FF0B (3). A +86 mobile is cn_mobile; otherwise E.164: a country code
// not starting with 0, then 8-15 digits in all, in groups joined by one or two of " -()".
Match Scanner::match_phone(size_t s, size_t plus_len) const {
  if (alnum_before(s)) return {};
  const size_t q = s + plus_len;
  int first_digit;
  if (digit_at(q, &first_digit) == 0 || first_digit == 0) return {};
  DigitGroups dg;
  read_groups(q, dg);
  const auto& g0 = dg.g[0];
  if (g0.len == 13 && dg.digits(g0.first, 2) == "86" && mobile_digits(dg, 2)) {
    if (number_right_ok(g0.end)) return {PiiType::kCnMobile, s, g0.end};
  } else if (g0.len == 2 && dg.digits(g0.first, 2) == "86") {
    size_t r = g0.end;
    for (int k = 0; k < 2; ++k) {
      const uint8_t c = at(r);
      if (c == ' ' || c == '-' || c == ')') {
        ++r;
      } else if (c == 0xE3 && at(r + 1) == 0x80 && at(r + 2) == 0x80) {
        r += 3;
      } else {
        break;
      }
    }
    DigitGroups dm;
    if (digit_at(r)) {
      read_groups(r, dm);
      if (dm.g[0].len == 11 && mobile_digits(dm, 0) && number_right_ok(dm.g[0].end)) {
        return {PiiType::kCnMobile, s, dm.g[0].end};
      }
      if (size_t e = mobile_344(dm, 0)) return {PiiType::kCnMobile, s, e};
    }
  }
  // E.164.
  size_t pos = q;
  size_t end = 0;
  int total = 0;
  for (;;) {
    size_t e = pos;
    int len = 0;
    for (int v, w; (w = digit_at(e, &v)) != 0; e += static_cast<size_t>(w)) ++len;
    if (total + len > 15) {
      if (total == 0) return {};
      break;
    }
    total += len;
    end = e;
    size_t sl = 0;
    while (sl < 2 && (at(e + sl) == ' ' || at(e + sl) == '-' || at(e + sl) == '(' || at(e + sl) == ')')) ++sl;
    if (sl == 0 || !digit_at(e + sl)) break;
    pos = e + sl;
  }
  if (total < 8 || !number_right_ok(end)) return {};
  return {PiiType::kPhone, s, end};
}

// [ws, we) starts with two letters and two digits. Compact ("GB82WEST12345698765432") or in
// groups of four joined by one kind of single separator: a space, a dash or U+00A0 (not tabs,
// which part cells, nor dots); either case.
Match Scanner::match_iban(size_t ws, size_t we) const {
  auto upper = [](uint8_t c) { return static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c); };
  const char country[2] = {upper(p_[ws]), upper(p_[ws + 1])};
  const int want = iban_length({country, 2});
  if (want == 0) return {};
  char buf[34];
  if (static_cast<int>(we - ws) == want) {
    for (int i = 0; i < want; ++i) buf[i] = upper(p_[ws + static_cast<size_t>(i)]);
    if (iban_valid({buf, static_cast<size_t>(want)})) return {PiiType::kIban, ws, we};
    return {};
  }
  if (we - ws != 4) return {};
  const uint8_t s0 = at(we);
  size_t sl = 0;
  if (s0 == ' ' || s0 == '-') {
    sl = 1;
  } else if (s0 == 0xC2 && at(we + 1) == 0xA0) {
    sl = 2;
  } else {
    return {};
  }
  size_t pos = ws;
  int got = 0;
  while (got < want) {
    if (got > 0) {
      if (at(pos) != s0 || (sl == 2 && at(pos + 1) != 0xA0)) return {};
      pos += sl;
    }
    for (int k = 0; k < 4 && got < want; ++k, ++got, ++pos) {
      if (!is_alnum(at(pos))) return {};
      buf[got] = upper(p_[pos]);
    }
  }
  if (is_alnum(at(pos))) return {};
  if (iban_valid({buf, static_cast<size_t>(want)})) return {PiiType::kIban, ws, pos};
  return {};
}

}  // namespace dsgw::policies::pii::detail
