#include "policies/pii/detector.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "policies/pii/scanner.h"

namespace dsgw::policies::pii {

namespace detail {

namespace {

// What the main loop does with a byte (bits): part of an ASCII word; a word start that always
// needs a closer look (a digit, or the first letter of a key prefix: AKIA/ASIA/AIza, gh*_, sk-,
// eyJ); or a byte to look at closer by itself ('+', '@', ':', '-', 0xEF: full-width forms).
enum : uint8_t { kWord = 1, kCheckWord = 2, kSpecial = 4 };

constexpr std::array<uint8_t, 256> make_dispatch() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool digit = c >= '0' && c <= '9';
    if (digit || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) t[static_cast<size_t>(c)] = kWord;
    if (digit || c == 'A' || c == 'g' || c == 's' || c == 'e') t[static_cast<size_t>(c)] |= kCheckWord;
  }
  for (int c : {int{'+'}, int{'@'}, int{':'}, int{'-'}, 0xEF}) t[static_cast<size_t>(c)] = kSpecial;
  return t;
}
constexpr std::array<uint8_t, 256> kDispatch = make_dispatch();

bool all_hex(const uint8_t* p, size_t b, size_t e) {
  for (size_t i = b; i < e; ++i) {
    if (!has(p[i], kHex)) return false;
  }
  return true;
}

}  // namespace

void Scanner::emit(const Match& m) {
  out_.push_back(Finding{m.type, m.begin, m.end - m.begin, confidence_of(m.type)});
}

void Scanner::run() {
  const uint8_t* const p = p_;
  const size_t n = n_;
  size_t i = 0;
  while (i < n) {
    const uint8_t k = kDispatch[p[i]];
    if (k == 0) {
      ++i;
      continue;
    }
    if (k & kWord) {
      size_t we = i + 1;
      while (we < n && (kDispatch[p[we]] & kWord)) ++we;
      // Most words start with a letter that begins nothing: only a hex group before ':' (IPv6)
      // or two letters and two digits (IBAN) can start there.
      if ((k & kCheckWord) || (we < n && p[we] == ':') ||
          (we - i >= 4 && is_digit(p[i + 2]) && is_digit(p[i + 3]) && is_alpha(p[i + 1]))) {
        i = on_word(i, we);
      } else {
        i = we;
      }
      continue;
    }
    i = on_special(i);
  }
}

// [ws, we) is a whole ASCII alphanumeric word. Returns where the main loop goes on (>= we).
size_t Scanner::on_word(size_t ws, size_t we) {
  if (alnum_before(ws)) return we;  // glued to a full-width letter or digit
  const uint8_t c0 = p_[ws];
  const size_t len = we - ws;
  auto take = [&](const Match& m) {
    emit(m);
    return std::max(m.end, we);
  };
  // An IPv6 address starts with a hex group of at most four digits and a colon.
  if (len <= 4 && at(we) == ':' && all_hex(p_, ws, we)) {
    if (Match m = match_ipv6(ws)) return take(m);
  }
  if (is_digit(c0)) {
    if (!number_left_ok(ws)) return we;
    if (len <= 3 && at(we) == '.' && is_digit(at(we + 1))) {
      if (Match m = match_ipv4(ws)) return take(m);
      return we;
    }
    // Only 11-19 characters (compact card, ID, mobile), or a first group before a separator
    // (86 or 0086; 1xx of a mobile; 4-6 digits of a card, first digit 2-6; 6 of an ID), or
    // digits running on in full width, can start one.
    const uint8_t next = at(we);
    bool grouped = false;
    if (len >= 2 && len <= 6 &&
        (next == ' ' || next == '-' || next == '\t' || next == '\n' || next == '\r' || next == 0xC2 ||
         next == 0xE3)) {
      const bool card_start = c0 >= '2' && c0 <= '6';
      switch (len) {
        case 2:
          grouped = c0 == '8' && p_[ws + 1] == '6';
          break;
        case 3:
          grouped = c0 == '1';
          break;
        case 4:
          grouped = card_start || std::memcmp(p_ + ws, "0086", 4) == 0;
          break;
        case 5:
          grouped = card_start;
          break;
        default:
          grouped = c0 != '0';
          break;
      }
    }
    // In a table of 4-5 digit groups ("1234 5678 9012 ...") only the run's first group can
    // start a grouped card (match_card), and nothing else starts with 4-5 digits but "0086".
    const bool in_table = grouped && (len == 4 || len == 5) && (next == ' ' || next == '-' || next == '\t') &&
                          ws > 0 && p_[ws - 1] == next &&
                          digit_group_before(ws, next == ' '   ? Sep::kSpace
                                                 : next == '-' ? Sep::kDash
                                                               : Sep::kTab) &&
                          !(len == 4 && std::memcmp(p_ + ws, "0086", 4) == 0);
    if (((len >= 11 && len <= 19) || grouped || next == 0xEF) && !in_table) {
      if (Match m = match_number(ws)) return take(m);
    }
    return we;
  }
  switch (c0) {
    case 'A':
      if (Match m = match_aws(ws, we)) return take(m);
      if (Match m = match_google_key(ws)) return take(m);
      break;
    case 'g':
      if (Match m = match_github(ws)) return take(m);
      break;
    case 's':
      if (len == 2 && p_[ws + 1] == 'k' && at(we) == '-') {
        if (Match m = match_sk_key(ws)) return take(m);
      }
      break;
    case 'e':
      if (Match m = match_jwt(ws)) return take(m);
      break;
    default:
      break;
  }
  if (len >= 4 && is_alpha(p_[ws + 1]) && is_digit(p_[ws + 2]) && is_digit(p_[ws + 3])) {
    if (Match m = match_iban(ws, we)) return take(m);
  }
  return we;
}

// p_[i] is '+', '@', ':', '-' or 0xEF. Returns where the main loop goes on (> i).
size_t Scanner::on_special(size_t i) {
  Match m;
  switch (p_[i]) {
    case '+':
      m = match_phone(i, 1);
      break;
    case '@':
      m = match_email(i);
      break;
    case ':':
      if (at(i + 1) == ':') m = match_ipv6(i);
      break;
    case '-':
      if (at(i + 1) == '-') m = match_pem(i);
      break;
    default:  // 0xEF
      if (at(i + 1) == 0xBC) {
        const uint8_t b2 = at(i + 2);
        if (b2 >= 0x90 && b2 <= 0x99) {  // full-width digit
          if (!number_left_ok(i)) return i + 3;
          m = match_number(i);
          if (!m) {
            // Skip the rest of this digit run: its digits are not at a boundary.
            size_t e = i;
            for (int v, w; (w = digit_at(e, &v)) != 0;) e += static_cast<size_t>(w);
            return e;
          }
        } else if (b2 == 0x8B) {  // full-width plus
          m = match_phone(i, 3);
        }
      }
      break;
  }
  if (m) {
    emit(m);
    return std::max(m.end, i + 1);
  }
  return i + 1;
}

}  // namespace detail

void Detector::scan(std::string_view text, std::vector<Finding>& out) const noexcept {
  const size_t first = out.size();
  try {
    detail::Scanner(text, out).run();
  } catch (const std::bad_alloc&) {
    // `out` keeps what fit.
  }
  // Only an email (found at its '@') can start before an earlier finding.
  auto by_offset = [](const Finding& a, const Finding& b) {
    if (a.offset != b.offset) return a.offset < b.offset;
    if (a.length != b.length) return a.length > b.length;
    return a.type < b.type;
  };
  const auto begin = out.begin() + static_cast<std::ptrdiff_t>(first);
  if (!std::is_sorted(begin, out.end(), by_offset)) std::sort(begin, out.end(), by_offset);
}

std::vector<Finding> Detector::scan(std::string_view text) const {
  std::vector<Finding> out;
  scan(text, out);
  return out;
}

}  // namespace dsgw::policies::pii
