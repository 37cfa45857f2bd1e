#include "policies/pii/checksums.h"

#include <doctest/doctest.h>

#include <string>

#include "policies/pii/pii_type.h"

using dsgw::policies::pii::cn_resident_id_valid;
using dsgw::policies::pii::iban_length;
using dsgw::policies::pii::iban_valid;
using dsgw::policies::pii::luhn_valid;
using dsgw::policies::pii::valid_birth_date;

namespace {

// Payload + its Luhn check digit, computed independently of the code under test.
std::string with_luhn(const std::string& payload) {
  int sum = 0;
  for (size_t i = 0; i < payload.size(); ++i) {
    int d = payload[payload.size() - 1 - i] - '0';
    if (i % 2 == 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return payload + static_cast<char>('0' + (10 - sum % 10) % 10);
}

// Country + computed check digits + BBAN.
std::string make_iban(const std::string& country, const std::string& bban) {
  const std::string r = bban + country + "00";
  int rem = 0;
  for (char c : r) {
    if (c >= '0' && c <= '9') {
      rem = (rem * 10 + (c - '0')) % 97;
    } else {
      rem = (rem * 100 + (c - 'A' + 10)) % 97;
    }
  }
  const int check = 98 - rem;
  return country + static_cast<char>('0' + check / 10) + static_cast<char>('0' + check % 10) + bban;
}

// 17 digits + their GB 11643 check character.
std::string with_id_check(const std::string& d17) {
  static const int kW[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  for (int i = 0; i < 17; ++i) sum += (d17[static_cast<size_t>(i)] - '0') * kW[i];
  return d17 + "10X98765432"[sum % 11];
}

}  // namespace

TEST_CASE("pii: luhn_valid accepts the standard test card numbers") {
  for (const char* card : {"4111111111111111", "4012888888881881", "4222222222222", "5555555555554444",
                           "5105105105105100", "2223003122003222", "378282246310005", "371449635398431",
                           "6011111111111117", "6011000990139424", "3530111333300000", "3566002020360505",
                           "30569309025904", "38520000023237", "36227206271667", "6200000000000005"}) {
    CAPTURE(card);
    CHECK(luhn_valid(card));
  }
  CHECK(luhn_valid(with_luhn("12345678901234")));
  CHECK(luhn_valid("18"));  // 1*2 + 8 = 10
  CHECK(luhn_valid("0000000000000000"));
}

TEST_CASE("pii: luhn_valid rejects a changed digit, swaps, non-digits and short input") {
  CHECK_FALSE(luhn_valid("4111111111111112"));
  CHECK_FALSE(luhn_valid("4111111111111121"));
  CHECK_FALSE(luhn_valid("5555555555554445"));
  CHECK_FALSE(luhn_valid("4111 1111 1111 1111"));
  CHECK_FALSE(luhn_valid("411111111111111a"));
  CHECK_FALSE(luhn_valid(""));
  CHECK_FALSE(luhn_valid("0"));
  CHECK_FALSE(luhn_valid("19"));
  // Every single-digit change of a valid number breaks it.
  const std::string good = "4012888888881881";
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>('0' + (bad[i] - '0' + 1) % 10);
    CAPTURE(i);
    CHECK_FALSE(luhn_valid(bad));
  }
}

TEST_CASE("pii: iban_length knows SEPA and registry countries") {
  CHECK(iban_length("GB") == 22);
  CHECK(iban_length("DE") == 22);
  CHECK(iban_length("FR") == 27);
  CHECK(iban_length("NL") == 18);
  CHECK(iban_length("NO") == 15);
  CHECK(iban_length("MT") == 31);
  CHECK(iban_length("CH") == 21);
  CHECK(iban_length("RU") == 33);
  CHECK(iban_length("US") == 0);
  CHECK(iban_length("CN") == 0);
  CHECK(iban_length("gb") == 0);
  CHECK(iban_length("G") == 0);
  CHECK(iban_length("GBR") == 0);
}

TEST_CASE("pii: iban_valid accepts registry examples") {
  for (const char* iban :
       {"GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606",
        "NL91ABNA0417164300", "BE68539007547034", "CH9300762011623852957", "ES9121000418450200051332",
        "IT60X0542811101000000123456", "NO9386011117947", "AT611904300234573201",
        "PL61109010140000071219812874", "SE4550000000058398257466"}) {
    CAPTURE(iban);
    CHECK(iban_valid(iban));
  }
  const std::string made = make_iban("LU", "0019400644750000");
  CHECK(made.size() == 20);
  CHECK(iban_valid(made));
}

TEST_CASE("pii: iban_valid rejects bad check digits, lengths, case, spaces and unknown countries") {
  CHECK_FALSE(iban_valid("GB82WEST12345698765433"));
  CHECK_FALSE(iban_valid("GB28WEST12345698765432"));  // swapped check digits
  CHECK_FALSE(iban_valid("GB82WEST1234569876543"));   // one short
  CHECK_FALSE(iban_valid("GB82WEST123456987654321"));
  CHECK_FALSE(iban_valid("gb82west12345698765432"));
  CHECK_FALSE(iban_valid("GB82 WEST 1234 5698 7654 32"));
  CHECK_FALSE(iban_valid("XX82WEST12345698765432"));
  CHECK_FALSE(iban_valid("US82WEST12345698765432"));
  CHECK_FALSE(iban_valid("GBXXWEST12345698765432"));
  CHECK_FALSE(iban_valid(""));
  CHECK_FALSE(iban_valid("GB82"));
  // Check digits 00/01/99 are never issued even when the remainder works out (00 = 97, 01 = 98,
  // 99 = 02 modulo 97).
  const std::string good = make_iban("DE", "370400440532013000");
  REQUIRE(good == "DE89370400440532013000");
  const std::string with97 = make_iban("GB", "WEST12345698765432");
  REQUIRE(iban_valid(with97));
  for (const auto& [from, to] : {std::pair{"97", "00"}, std::pair{"98", "01"}, std::pair{"02", "99"}}) {
    // Find a BBAN whose computed check digits are `from`, then swap in the equivalent `to`.
    bool found = false;
    for (int k = 0; k < 100000 && !found; ++k) {
      std::string iban = make_iban("DE", "3704004405320" + std::to_string(10000 + k));
      if (iban.substr(2, 2) != from) continue;
      CHECK(iban_valid(iban));
      iban.replace(2, 2, to);
      CAPTURE(iban);
      CHECK_FALSE(iban_valid(iban));
      found = true;
    }
    CHECK(found);
  }
}

TEST_CASE("pii: cn_resident_id_valid accepts real-format IDs") {
  CHECK(cn_resident_id_valid("11010519491231002X"));
  CHECK(cn_resident_id_valid("11010519491231002x"));
  const std::string shenzhen = with_id_check("44030419900307123");
  CHECK(cn_resident_id_valid(shenzhen));
  CHECK(cn_resident_id_valid(with_id_check("62010220000229001")));  // 2000 is a leap year
  CHECK(cn_resident_id_valid(with_id_check("31011520240229456")));
  CHECK(cn_resident_id_valid(with_id_check("51010719000101001")));  // first allowed year
  CHECK(cn_resident_id_valid(with_id_check("51010721001231001")));  // last allowed year
}

TEST_CASE("pii: cn_resident_id_valid rejects wrong check characters, impossible dates and shapes") {
  CHECK_FALSE(cn_resident_id_valid("110105194912310021"));
  CHECK_FALSE(cn_resident_id_valid("11010519491231002Y"));
  const std::string good = with_id_check("44030419900307123");
  for (char c : std::string("0123456789X")) {
    if (c == good[17]) continue;
    std::string bad = good;
    bad[17] = c;
    CAPTURE(bad);
    CHECK_FALSE(cn_resident_id_valid(bad));
  }
  CHECK_FALSE(cn_resident_id_valid(with_id_check("44030419900230123")));  // Feb 30
  CHECK_FALSE(cn_resident_id_valid(with_id_check("44030419000229123")));  // 1900 is not leap
  CHECK_FALSE(cn_resident_id_valid(with_id_check("44030421000229123")));  // 2100 is not leap
  CHECK_FALSE(cn_resident_id_valid(with_id_check("44030419230229123")));
  CHECK_FALSE(cn_resident_id_valid(with_id_check("44030419901301123")));  // month 13
  CHECK_FALSE(cn_resident_id_valid(with_id_check("44030419900001123")));  // month 0
  CHECK_FALSE(cn_resident_id_valid(with_id_check("44030419900100123")));  // day 0
  CHECK_FALSE(cn_resident_id_valid(with_id_check("44030419900431123")));  // Apr 31
  CHECK_FALSE(cn_resident_id_valid(with_id_check("44030418991231123")));  // 1899
  CHECK_FALSE(cn_resident_id_valid(with_id_check("44030421010101123")));  // 2101
  CHECK_FALSE(cn_resident_id_valid(with_id_check("04030419900307123")));  // region starts with 0
  CHECK_FALSE(cn_resident_id_valid("11010519491231002"));
  CHECK_FALSE(cn_resident_id_valid("11010519491231002X0"));
  CHECK_FALSE(cn_resident_id_valid("1101051949123100 X"));
  CHECK_FALSE(cn_resident_id_valid(""));
}

TEST_CASE("pii: valid_birth_date follows the Gregorian calendar") {
  CHECK(valid_birth_date(2024, 2, 29));
  CHECK(valid_birth_date(2000, 2, 29));
  CHECK_FALSE(valid_birth_date(1900, 2, 29));
  CHECK_FALSE(valid_birth_date(2023, 2, 29));
  CHECK(valid_birth_date(2023, 12, 31));
  CHECK_FALSE(valid_birth_date(2023, 6, 31));
  CHECK_FALSE(valid_birth_date(1899, 12, 31));
  CHECK(valid_birth_date(2100, 12, 31));
}

TEST_CASE("pii: name and parse_pii_type are inverses over every type") {
  using dsgw::policies::pii::kPiiTypeCount;
  using dsgw::policies::pii::name;
  using dsgw::policies::pii::parse_pii_type;
  using dsgw::policies::pii::PiiType;
  for (int i = 0; i < kPiiTypeCount; ++i) {
    const auto t = static_cast<PiiType>(i);
    CAPTURE(i);
    REQUIRE(parse_pii_type(name(t)).has_value());
    CHECK(*parse_pii_type(name(t)) == t);
  }
  CHECK(name(PiiType::kCreditCard) == "credit_card");
  CHECK(name(PiiType::kCnResidentId) == "cn_resident_id");
  CHECK(name(PiiType::kAwsAccessKey) == "aws_access_key");
  CHECK(name(PiiType::kJwt) == "jwt");
  CHECK_FALSE(parse_pii_type("Credit_Card").has_value());
  CHECK_FALSE(parse_pii_type("").has_value());
  CHECK_FALSE(parse_pii_type("ssn").has_value());
}
