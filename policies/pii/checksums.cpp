#include "policies/pii/checksums.h"

#include <array>
#include <cstdint>

namespace dsgw::policies::pii {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }

struct IbanCountry {
  char code[3];
  uint8_t length;
};

// SWIFT IBAN registry (release 2024): every country with a registered IBAN format.
constexpr IbanCountry kIbanCountries[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24},
    {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
    {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27},
    {"GT", 28}, {"HN", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26},
    {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20},
    {"LU", 20}, {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20},
    {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24},
    {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24},
    {"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25},
    {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20},
    {"YE", 30},
};

constexpr std::array<uint8_t, 26 * 26> make_iban_table() {
  std::array<uint8_t, 26 * 26> t{};
  for (const auto& c : kIbanCountries) t[(c.code[0] - 'A') * 26 + (c.code[1] - 'A')] = c.length;
  return t;
}
constexpr std::array<uint8_t, 26 * 26> kIbanLength = make_iban_table();

}  // namespace

bool luhn_valid(std::string_view digits) {
  if (digits.size() < 2) return false;
  int sum = 0;
  bool twice = false;
  for (size_t i = digits.size(); i-- > 0;) {
    const char c = digits[i];
    if (!is_digit(c)) return false;
    int d = c - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

int iban_length(std::string_view country) {
  if (country.size() != 2 || !is_upper(country[0]) || !is_upper(country[1])) return 0;
  return kIbanLength[(country[0] - 'A') * 26 + (country[1] - 'A')];
}

bool iban_valid(std::string_view s) {
  if (s.size() < 4) return false;
  const int want = iban_length(s.substr(0, 2));
  if (want == 0 || static_cast<int>(s.size()) != want) return false;
  if (!is_digit(s[2]) || !is_digit(s[3])) return false;
  const int check = (s[2] - '0') * 10 + (s[3] - '0');
  if (check < 2 || check > 98) return false;
  // Rearranged: BBAN, then country code and check digits; letters count as 10..35.
  uint32_t rem = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    const char c = s[(k + 4) % s.size()];
    if (is_digit(c)) {
      rem = (rem * 10 + static_cast<uint32_t>(c - '0')) % 97;
    } else if (is_upper(c)) {
      rem = (rem * 100 + static_cast<uint32_t>(c - 'A' + 10)) % 97;
    } else {
      return false;
    }
  }
  return rem == 1;
}

bool valid_birth_date(int year, int month, int day) {
  if (year < 1900 || year > 2100 || month < 1 || month > 12 || day < 1) return false;
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const int max_day = (month == 2 && leap) ? 29 : kDays[month - 1];
  return day <= max_day;
}

bool cn_resident_id_valid(std::string_view id) {
  if (id.size() != 18) return false;
  for (size_t i = 0; i < 17; ++i) {
    if (!is_digit(id[i])) return false;
  }
  if (id[0] == '0') return false;
  auto num = [&](size_t from, size_t len) {
    int v = 0;
    for (size_t i = from; i < from + len; ++i) v = v * 10 + (id[i] - '0');
    return v;
  };
  if (!valid_birth_date(num(6, 4), num(10, 2), num(12, 2))) return false;
  static constexpr int kWeights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  for (size_t i = 0; i < 17; ++i) sum += (id[i] - '0') * kWeights[i];
  static constexpr char kCheck[11] = {'1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'};
  const char want = kCheck[sum % 11];
  const char got = id[17] == 'x' ? 'X' : id[17];
  return got == want;
}

}  // namespace dsgw::policies::pii
