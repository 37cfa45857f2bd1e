#include "policies/pii/detector.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

using dsgw::policies::pii::Detector;
using dsgw::policies::pii::Finding;
using dsgw::policies::pii::PiiType;

namespace {

// "type@offset+length ..." for every finding: positions only, like the detector itself.
std::string found(std::string_view text) {
  std::string s;
  for (const Finding& f : Detector().scan(text)) {
    if (!s.empty()) s += ' ';
    s += std::string(dsgw::policies::pii::name(f.type)) + "@" + std::to_string(f.offset) + "+" +
         std::to_string(f.length);
  }
  return s;
}

std::string at(const char* type, size_t offset, size_t length) {
  return std::string(type) + "@" + std::to_string(offset) + "+" + std::to_string(length);
}

// The whole text is one finding of `type`.
std::string whole(const char* type, std::string_view text) { return at(type, 0, text.size()); }

// ASCII digits to full-width (U+FF10..U+FF19); everything else unchanged.
std::string fullwidth(std::string_view ascii) {
  std::string s;
  for (char c : ascii) {
    if (c >= '0' && c <= '9') {
      s += "\xEF\xBC";
      s += static_cast<char>(0x90 + (c - '0'));
    } else {
      s += c;
    }
  }
  return s;
}

std::string with_luhn(const std::string& payload) {
  int sum = 0;
  for (size_t i = 0; i < payload.size(); ++i) {
    int d = payload[payload.size() - 1 - i] - '0';
    if (i % 2 == 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return payload + static_cast<char>('0' + (10 - sum % 10) % 10);
}

std::string with_id_check(const std::string& d17) {
  static const int kW[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  for (int i = 0; i < 17; ++i) sum += (d17[static_cast<size_t>(i)] - '0') * kW[i];
  return d17 + "10X98765432"[sum % 11];
}

const std::string kJwt =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIy"
    "fQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

}  // namespace

// ---------------------------------------------------------------- credit cards

TEST_CASE("pii: detector finds compact card numbers of every network") {
  for (const char* card : {"4111111111111111", "4222222222222", "5555555555554444", "2223003122003222",
                           "378282246310005", "6011111111111117", "3530111333300000", "30569309025904",
                           "36227206271667", "38520000023237", "6200000000000005"}) {
    CAPTURE(card);
    CHECK(found(card) == whole("credit_card", card));
  }
  CHECK(found(with_luhn("621234567890123456")) == at("credit_card", 0, 19));  // 19-digit UnionPay
  CHECK(found(with_luhn("655555555555555")) == at("credit_card", 0, 16));     // Discover 65
  CHECK(found(with_luhn("644555555555555")) == at("credit_card", 0, 16));     // Discover 644
}

TEST_CASE("pii: detector gives exact offsets for cards in prose, Chinese text and code") {
  CHECK(found("Card: 4111111111111111.") == at("credit_card", 6, 16));
  CHECK(found("my card is 4111 1111 1111 1111, expires 12/29") == at("credit_card", 11, 19));
  CHECK(found("\xE5\x8D\xA1\xE5\x8F\xB7"
              "4111111111111111\xEF\xBC\x8C\xE8\xB0\xA2\xE8\xB0\xA2") ==
        at("credit_card", 6, 16));  // 卡号4111111111111111，谢谢
  CHECK(found("card = \"4111111111111111\";") == at("credit_card", 8, 16));
  CHECK(found("pay(card_number='5555-5555-5555-4444')") == at("credit_card", 17, 19));
  CHECK(found("{\"pan\":4111111111111111}") == at("credit_card", 7, 16));
  CHECK(found("x_4111111111111111") == at("credit_card", 2, 16));  // '_' is a boundary
}

TEST_CASE("pii: detector reads spaced, dashed, wrapped and full-width card numbers") {
  CHECK(found("4111-1111-1111-1111") == at("credit_card", 0, 19));
  CHECK(found("3782 822463 10005") == at("credit_card", 0, 17));  // Amex 4-6-5
  CHECK(found("3056 930902 5904") == at("credit_card", 0, 16));   // Diners 4-6-4
  CHECK(found("4222 2222 2222 2") == at("credit_card", 0, 16));   // 13-digit Visa
  const std::string nineteen = with_luhn("621234567890123456");
  CHECK(found(nineteen.substr(0, 4) + " " + nineteen.substr(4, 4) + " " + nineteen.substr(8, 4) + " " +
              nineteen.substr(12, 4) + " " + nineteen.substr(16)) == at("credit_card", 0, 23));
  CHECK(found("4111 1111\n1111 1111") == at("credit_card", 0, 19));
  CHECK(found("4111 1111 1111\r\n1111 ok") == at("credit_card", 0, 20));
  CHECK(found("4111-1111-\n  1111-1111") == std::string());  // a dash then a break is two seps
  CHECK(found("4111 1111 \n    1111 1111") == at("credit_card", 0, 24));
  CHECK(found("# 4111 1111 1111\n# 1111") == std::string());  // "# " is not a separator
  const std::string fw = fullwidth("4111111111111111");
  CHECK(found(fw) == at("credit_card", 0, 48));
  CHECK(found("\xE5\x8D\xA1\xE5\x8F\xB7\xEF\xBC\x9A" + fw + "\xE3\x80\x82") == at("credit_card", 9, 48));
  // U+3000 ideographic space and U+FF0D full-width hyphen between full-width groups.
  const std::string g = fullwidth("1111");
  CHECK(found(fullwidth("4111") + "\xE3\x80\x80" + g + "\xE3\x80\x80" + g + "\xE3\x80\x80" + g) ==
        at("credit_card", 0, 57));
  CHECK(found(fullwidth("4111") + "\xEF\xBC\x8D" + g + "\xEF\xBC\x8D" + g + "\xEF\xBC\x8D" + g) ==
        at("credit_card", 0, 57));
  CHECK(found("4111\xC2\xA0"
              "1111\xC2\xA0"
              "1111\xC2\xA0"
              "1111") == at("credit_card", 0, 22));  // NBSP
  // A group after a complete card (a CVV, a count) does not hide it: the longest run of groups
  // that is a valid card wins.
  CHECK(found("4111 1111 1111 1111 5 times") == at("credit_card", 0, 19));
  CHECK(found("4111 1111 1111 1111 123") == at("credit_card", 0, 19));
  // Two cards on consecutive lines are two findings, not one wrapped number.
  CHECK(found("4111 1111 1111 1111\n5555 5555 5555 4444") ==
        at("credit_card", 0, 19) + " " + at("credit_card", 20, 19));
}

TEST_CASE("pii: detector does not report numbers that only look like cards") {
  CHECK(found("4111111111111112") == "");  // Luhn fails
  CHECK(found("order 4111111111111121 shipped") == "");
  const std::string luhn_no_iin = with_luhn("123456789012345");
  REQUIRE(luhn_no_iin.size() == 16);
  CHECK(found(luhn_no_iin) == "");                     // Luhn ok, no issuer
  CHECK(found(with_luhn("41111111111111111")) == "");  // 18-digit Visa does not exist
  CHECK(found(with_luhn("3411111111111111")) == "");   // 17-digit Amex
  CHECK(found("94111111111111111") == "");             // longer run containing one
  CHECK(found("41111111111111110000") == "");          // 20 digits
  CHECK(found("00000000004111111111111111000000") == "");
  CHECK(found("ID4111111111111111") == "");  // glued to letters
  CHECK(found("4111111111111111abc") == "");
  CHECK(found("0.4111111111111111") == "");  // a fraction
  CHECK(found("4111111111111111.25") == "");
  CHECK(found("41 11 11 11 11 11 11 11") == "");                  // not card grouping
  CHECK(found("4111-1111 1111-1111") == "");                      // mixed separators
  CHECK(found("4111    1111    1111    1111") == "");             // four spaces: columns
  CHECK(found("1700000000000 1699999999 20231015123045") == "");  // timestamps
  CHECK(found("2023-10-15 12:30:45.123456") == "");
  CHECK(found("1234 5678 9012 3456 7890 1234") == "");  // no valid leading groups
  // Inside a longer run of 4-digit groups on one line (a table of numbers) nothing is a card.
  CHECK(found("4111 1111 1111 1111 1111 1111 1111") == "");
  CHECK(found("0000 4111 1111 1111 1111") == "");
  CHECK(found(fullwidth("0000") + "\xE3\x80\x80" + fullwidth("4111") + "\xE3\x80\x80" + fullwidth("1111") +
              "\xE3\x80\x80" + fullwidth("1111") + "\xE3\x80\x80" + fullwidth("1111")) == "");
  CHECK(found("7203 4111-1111-1111-1111") == at("credit_card", 5, 19));  // another separator
}

TEST_CASE("pii: detector reads cards pasted from tables: tabs and two or three spaces") {
  CHECK(found("card\t4111\t1111\t1111\t1111") == at("credit_card", 5, 19));
  CHECK(found("4111\t1111\t1111\t1111\n") == at("credit_card", 0, 19));
  CHECK(found("3782\t822463\t10005") == at("credit_card", 0, 17));  // Amex 4-6-5
  CHECK(found("4111  1111  1111  1111") == at("credit_card", 0, 22));
  CHECK(found("card 4111   1111   1111   1111 ok") == at("credit_card", 5, 25));
  CHECK(found("4111 1111  1111   1111") == at("credit_card", 0, 22));  // widths may differ
  CHECK(found("| 5555  5555  5555  4444 |") == at("credit_card", 2, 22));
  CHECK(found("4111\t1111\t1111\t1111\t123") == at("credit_card", 0, 19));  // then a CVV cell
  CHECK(found("4111  1111  1111  1111  123") == at("credit_card", 0, 22));
  // A column four or more spaces away is another cell, not part of the number.
  CHECK(found("1234    4111 1111 1111 1111") == at("credit_card", 8, 19));
  CHECK(found("2024\t4111 1111 1111 1111") == at("credit_card", 5, 19));  // another separator
}

TEST_CASE("pii: detector does not read tables of digit groups as cards") {
  CHECK(found("4111\t1111\t1111\t1112") == "");  // Luhn fails
  CHECK(found("4111  1111  1111  1112") == "");
  CHECK(found("4111\t1111 1111\t1111") == "");  // tab and space: one kind per number
  CHECK(found("4111 1111\t1111 1111") == "");
  CHECK(found("4111\t\t1111\t\t1111\t\t1111") == "");  // empty cells between
  CHECK(found("4111     1111     1111     1111") == "");
  // Inside a longer row of 4-digit cells nothing is a card.
  CHECK(found("0000\t4111\t1111\t1111\t1111") == "");
  CHECK(found("4111\t1111\t1111\t1111\t1111\t1111") == "");
  CHECK(found("0000  4111  1111  1111  1111") == "");
  CHECK(found("0000 4111   1111   1111   1111") == "");
  CHECK(found("4111   1111   1111   1111   1111") == "");
  CHECK(found("1700000000\t1699999999\t20231015123045") == "");
  CHECK(found("2023\t10\t15\t12\t30") == "");
  // Tabs and wide spaces group cards only: mobiles and resident IDs keep single separators.
  CHECK(found("138  0013  8000") == "");
  CHECK(found("138\t0013\t8000") == "");
  CHECK(found("110105  19491231  002X") == "");
  CHECK(found("110105\t19491231\t002X") == "");
}

// ---------------------------------------------------------------- IBAN

TEST_CASE("pii: detector finds IBANs compact, grouped and in any case") {
  CHECK(found("GB82WEST12345698765432") == at("iban", 0, 22));
  CHECK(found("IBAN: GB82 WEST 1234 5698 7654 32.") == at("iban", 6, 27));
  CHECK(found("DE89 3704 0044 0532 0130 00 is mine") == at("iban", 0, 27));
  CHECK(found("de89370400440532013000") == at("iban", 0, 22));
  CHECK(found("gb82 west 1234 5698 7654 32") == at("iban", 0, 27));
  CHECK(found("BE68 5390 0754 7034 and more") == at("iban", 0, 19));
  CHECK(found("NL91ABNA0417164300") == at("iban", 0, 18));
  CHECK(found("FR1420041010050500013M02606") == at("iban", 0, 27));
  CHECK(found("\"iban\":\"CH9300762011623852957\"") == at("iban", 8, 21));
}

TEST_CASE("pii: detector finds IBANs grouped with dashes or no-break spaces") {
  CHECK(found("DE89-3704-0044-0532-0130-00") == at("iban", 0, 27));
  CHECK(found("iban gb82-west-1234-5698-7654-32.") == at("iban", 5, 27));
  CHECK(found("(BE68-5390-0754-7034)") == at("iban", 1, 19));
  CHECK(found("DE89\xC2\xA0"
              "3704\xC2\xA0"
              "0044\xC2\xA0"
              "0532\xC2\xA0"
              "0130\xC2\xA0"
              "00") == at("iban", 0, 32));
}

TEST_CASE("pii: detector rejects dashed IBAN look-alikes and other separators") {
  CHECK(found("DE89-3704-0044-0532-0130-01") == "");   // check digits
  CHECK(found("DE89-3704-0044-0532-0130-001") == "");  // too long
  CHECK(found("DE89-3704 0044-0532-0130-00") == "");   // mixed separators
  CHECK(found("DE89 3704-0044-0532-0130-00") == "");
  CHECK(found("DE89.3704.0044.0532.0130.00") == "");       // dots: versions, not IBANs
  CHECK(found("DE89\t3704\t0044\t0532\t0130\t00") == "");  // tabs part cells
  CHECK(found("DE89--3704--0044--0532--0130--00") == "");
  CHECK(found("AB12-3456-7890-1234") == "");  // no such country
}

TEST_CASE("pii: detector rejects IBAN look-alikes") {
  CHECK(found("GB82WEST12345698765433") == "");  // check digits
  CHECK(found("GB82 WEST 1234 5698 7654 33") == "");
  CHECK(found("XX82WEST12345698765432") == "");   // no such country
  CHECK(found("GB82WEST1234569876543") == "");    // too short for GB
  CHECK(found("GB82WEST123456987654321") == "");  // too long
  CHECK(found("GB82 WEST 1234 5698 7654 321") == "");
  CHECK(found("XGB82WEST12345698765432") == "");
  CHECK(found("GB82 WEST12345698765432") == "");  // not in fours
  CHECK(found("AB12 is a part number; DE12 too") == "");
}

// ---------------------------------------------------------------- Chinese resident ID

TEST_CASE("pii: detector finds Chinese resident IDs") {
  CHECK(found("11010519491231002X") == at("cn_resident_id", 0, 18));
  CHECK(found("11010519491231002x") == at("cn_resident_id", 0, 18));
  const std::string id = with_id_check("44030419900307124");
  REQUIRE(id[17] == '8');
  CHECK(found(id) == at("cn_resident_id", 0, 18));
  // 身份证号：11010519491231002X。
  CHECK(found("\xE8\xBA\xAB\xE4\xBB\xBD\xE8\xAF\x81\xE5\x8F\xB7\xEF\xBC\x9A"
              "11010519491231002X\xE3\x80\x82") == at("cn_resident_id", 15, 18));
  CHECK(found(fullwidth(id)) == at("cn_resident_id", 0, 54));
  CHECK(found(fullwidth("11010519491231002") + "\xEF\xBC\xB8") == at("cn_resident_id", 0, 54));  // Ｘ
  CHECK(found("110105 19491231 002X") == at("cn_resident_id", 0, 20));
  CHECK(found(id.substr(0, 6) + "-" + id.substr(6, 8) + "-" + id.substr(14)) == at("cn_resident_id", 0, 20));
  CHECK(found("id_card=\"11010519491231002X\"") == at("cn_resident_id", 9, 18));
  // A Gansu ID starts 62 like UnionPay: it is reported once, as an ID.
  const std::string gansu = with_id_check("62010219880808001");
  CHECK(found(gansu) == at("cn_resident_id", 0, 18));
}

TEST_CASE("pii: detector rejects resident ID look-alikes") {
  CHECK(found("110105194912310021") == "");                // wrong check character
  CHECK(found(with_id_check("44030419900230123")) == "");  // Feb 30
  CHECK(found(with_id_check("44030419000229123")) == "");  // 1900-02-29
  CHECK(found(with_id_check("44030419901301123")) == "");  // month 13
  const std::string id = with_id_check("44030419900307124");
  CHECK(found(std::string("1").append(id)) == "");  // 19-digit run
  CHECK(found(id + "5") == "");
  CHECK(found("A11010519491231002X") == "");
  CHECK(found("11010519491231002XY") == "");
  CHECK(found("11010519491231002") == "");  // 17 digits, no check char
}

// ---------------------------------------------------------------- Chinese mobile and phone

TEST_CASE("pii: detector finds Chinese mobile numbers in their usual forms") {
  CHECK(found("13800138000") == at("cn_mobile", 0, 11));
  CHECK(found("call 19912345678 now") == at("cn_mobile", 5, 11));
  CHECK(found("138 0013 8000") == at("cn_mobile", 0, 13));
  CHECK(found("138-0013-8000") == at("cn_mobile", 0, 13));
  CHECK(found("+86 138 0013 8000") == at("cn_mobile", 0, 17));  // once, not also as phone
  CHECK(found("+86-13800138000") == at("cn_mobile", 0, 15));
  CHECK(found("+8613800138000") == at("cn_mobile", 0, 14));
  CHECK(found("(+86) 13800138000") == at("cn_mobile", 1, 16));
  CHECK(found("0086 13800138000") == at("cn_mobile", 0, 16));
  CHECK(found("008613800138000") == at("cn_mobile", 0, 15));
  CHECK(found("86-13800138000") == at("cn_mobile", 0, 14));
  CHECK(found("8613800138000") == at("cn_mobile", 0, 13));
  CHECK(found(fullwidth("13800138000")) == at("cn_mobile", 0, 33));
  // 电话：13800138000，
  CHECK(found("\xE7\x94\xB5\xE8\xAF\x9D\xEF\xBC\x9A"
              "13800138000\xEF\xBC\x8C") == at("cn_mobile", 9, 11));
  CHECK(found("tel:13800138000;") == at("cn_mobile", 4, 11));
}

TEST_CASE("pii: detector rejects mobile look-alikes") {
  CHECK(found("12800138000") == "");  // 12x is not a mobile prefix
  CHECK(found("10086") == "");
  CHECK(found("138001380001") == "");  // 12 digits
  CHECK(found("913800138000") == "");
  CHECK(found("13800138000.5") == "");
  CHECK(found("x13800138000") == "");
  CHECK(found("138 0013 800") == "");
  CHECK(found("1380 013 8000") == "");
}

TEST_CASE("pii: detector finds E.164 phone numbers") {
  CHECK(found("+1 415 555 2671") == at("phone", 0, 15));
  CHECK(found("+14155552671") == at("phone", 0, 12));
  CHECK(found("ring +44 20 7946 0958 today") == at("phone", 5, 16));
  CHECK(found("+49-30-1234567") == at("phone", 0, 14));
  CHECK(found("+1 (415) 555-2671") == at("phone", 0, 17));
  CHECK(found("+86 10 6552 9988") == at("phone", 0, 16));  // a Beijing landline is a phone
  CHECK(found("\xEF\xBC\x8B"
              "442079460958") == at("phone", 0, 15));  // full-width plus
}

TEST_CASE("pii: detector rejects phone look-alikes") {
  CHECK(found("+1234567") == "");           // 7 digits
  CHECK(found("+1234567890123456") == "");  // 16 digits
  CHECK(found("+0 123 456 789") == "");
  CHECK(found("C++17 and a+12345678") == "");
  CHECK(found("+1 415 555 2671x") == "");
  CHECK(found("i += 1; j + 2") == "");
}

// ---------------------------------------------------------------- email, IP

TEST_CASE("pii: detector finds email addresses") {
  CHECK(found("john.doe+tag@example.co.uk") == at("email", 0, 26));
  CHECK(found("mail <a_b@mail-server.example.io> now") == at("email", 6, 26));
  CHECK(found("bob@example.com.") == at("email", 0, 15));
  CHECK(found("\"x\": \"ops@corp.example\"") == at("email", 6, 16));
  CHECK(found("\xE9\x82\xAE\xE7\xAE\xB1"
              "zhang.san@qq.com") == at("email", 6, 16));  // 邮箱
}

TEST_CASE("pii: detector rejects email look-alikes") {
  CHECK(found("@decorator\ndef f(): pass") == "");
  CHECK(found("user@localhost") == "");
  CHECK(found("a@b.c") == "");
  CHECK(found("foo@bar.123") == "");
  CHECK(found("x @ y.com") == "");
  CHECK(found("name@.com") == "");
  CHECK(found("name@-x.com") == "");
  CHECK(found(".@x.com") == "");
  CHECK(found("npm i @types/node") == "");
  CHECK(found("result = a @ b.T") == "");
}

TEST_CASE("pii: detector finds email addresses at internationalised domains") {
  CHECK(found("li@\xE4\xBE\x8B\xE5\xAD\x90.\xE4\xB8\xAD\xE5\x9B\xBD") == at("email", 0, 16));  // li@例子.中国
  CHECK(found("mail li@\xE4\xBE\x8B\xE5\xAD\x90.\xE4\xB8\xAD\xE5\x9B\xBD now") == at("email", 5, 16));
  CHECK(found("li.wei@xn--fsqu00a.xn--fiqs8s") == at("email", 0, 29));
  CHECK(found("<ops@XN--FSQU00A.XN--FIQS8S>") == at("email", 1, 26));
  CHECK(found("li@mail.xn--55qx5d") == at("email", 0, 18));  // .公司 as punycode
  CHECK(found("li@xn--fsqu00a.com") == at("email", 0, 18));
  // 请发到li@例子.中国，谢谢 and 。: CJK punctuation ends the address.
  CHECK(found("\xE8\xAF\xB7\xE5\x8F\x91\xE5\x88\xB0"
              "li@\xE4\xBE\x8B\xE5\xAD\x90.\xE4\xB8\xAD\xE5\x9B\xBD\xEF\xBC\x8C\xE8\xB0\xA2") ==
        at("email", 9, 16));
  CHECK(found("li@\xE4\xBE\x8B\xE5\xAD\x90.\xE4\xB8\xAD\xE5\x9B\xBD\xE3\x80\x82") == at("email", 0, 16));
  // Without a space after it, an address in Chinese prose runs on to the next punctuation.
  CHECK(found("li@\xE4\xBE\x8B\xE5\xAD\x90.\xE4\xB8\xAD\xE5\x9B\xBD\xE8\xB0\xA2\xE8\xB0\xA2\xE3\x80\x82") ==
        at("email", 0, 22));
  CHECK(found("user@\xD0\xBF\xD1\x80\xD0\xB8\xD0\xBC\xD0\xB5\xD1\x80.\xD1\x80\xD1\x84") ==
        at("email", 0, 22));  // user@пример.рф
  CHECK(found("m\xC3\xBCller@b\xC3\xBC"
              "cher.de") == at("email", 0, 18));  // müller@bücher.de
  // UTF-8 local parts: 张三@例子.中国, and 联系：张三@example.com (the colon ends it).
  CHECK(found("\xE5\xBC\xA0\xE4\xB8\x89@\xE4\xBE\x8B\xE5\xAD\x90.\xE4\xB8\xAD\xE5\x9B\xBD") ==
        at("email", 0, 20));
  CHECK(found("\xE8\x81\x94\xE7\xB3\xBB\xEF\xBC\x9A\xE5\xBC\xA0\xE4\xB8\x89@example.com") ==
        at("email", 9, 18));
  // An ASCII domain ends where non-ASCII text begins: zhang@qq.com谢谢.
  CHECK(found("zhang@qq.com\xE8\xB0\xA2\xE8\xB0\xA2") == at("email", 0, 12));
}

TEST_CASE("pii: detector rejects internationalised email look-alikes") {
  const std::string lizi = "\xE4\xBE\x8B\xE5\xAD\x90";                        // 例子
  CHECK(found("li@" + lizi) == "");                                           // one label
  CHECK(found("li@" + lizi + ".\xE4\xB8\xAD") == "");                         // a one-character TLD
  CHECK(found("@" + lizi + ".\xE4\xB8\xAD\xE5\x9B\xBD") == "");               // no local part
  CHECK(found("li@" + lizi + "\xE3\x80\x82\xE4\xB8\xAD\xE5\x9B\xBD") == "");  // 。 is not a dot
  CHECK(found("li@\xE3\x80\x82" + lizi) == "");
  CHECK(found("li@" + lizi + ".\xF0\x9F\x98\x80\xF0\x9F\x98\x80") == "");  // emoji TLD
  CHECK(found("\xF0\x9F\x98\x80@example.com") == "");                      // emoji local part
  CHECK(found("\xEF\xBC\x9A@example.com") == "");                          // full-width colon
  CHECK(found("li@" + lizi + ".\xE4\xB8") == "");                          // truncated UTF-8
  CHECK(found("li@\xC0\xAE\xC0\xAE.\xE4\xB8\xAD\xE5\x9B\xBD") == "");      // overlong
  CHECK(found("x@y.xn--") == "");
  CHECK(found("x@y.xn--1") == "");  // too short for punycode, and a digit
  CHECK(found("ops@host.co1") == "");
  CHECK(found("a@b.1\xE4\xB8\xAD\xE5\x9B\xBD") == "");  // an ASCII label ends at non-ASCII
  // @-mentions in Chinese prose: 谢谢@张三 的分享
  CHECK(found("\xE8\xB0\xA2\xE8\xB0\xA2@\xE5\xBC\xA0\xE4\xB8\x89 \xE7\x9A\x84") == "");
}

TEST_CASE("pii: detector finds IPv4 addresses") {
  CHECK(found("192.168.1.1") == at("ipv4", 0, 11));
  CHECK(found("connect to 10.0.0.1:8080 now") == at("ipv4", 11, 8));
  CHECK(found("ip=8.8.8.8, dns") == at("ipv4", 3, 7));
  CHECK(found("from 172.16.254.1.") == at("ipv4", 5, 12));
  CHECK(found("net 10.0.0.0/8") == at("ipv4", 4, 8));
  CHECK(found("255.255.255.255") == at("ipv4", 0, 15));
}

TEST_CASE("pii: detector rejects version strings and other dotted numbers") {
  CHECK(found("version 1.2.3") == "");
  CHECK(found("1.2.3.4.5") == "");
  CHECK(found("release 2.10.1 and 3.14") == "");
  CHECK(found("256.1.1.1") == "");
  CHECK(found("01.2.3.4") == "");
  CHECK(found("1.02.3.4") == "");
  CHECK(found("v1.2.3.4") == "");
  CHECK(found("1.2.3.4a") == "");
  CHECK(found("1.2.3.4.txt") == at("ipv4", 0, 7));  // '.' then a letter ends it
}

TEST_CASE("pii: detector finds IPv6 addresses") {
  CHECK(found("2001:db8::1") == at("ipv6", 0, 11));
  CHECK(found("2001:0db8:85a3:0000:0000:8a2e:0370:7334") == at("ipv6", 0, 39));
  CHECK(found("fe80::1ff:fe23:4567:890a%eth0") == at("ipv6", 0, 24));
  CHECK(found("loopback ::1 only") == at("ipv6", 9, 3));
  CHECK(found("::ffff:192.0.2.128") == at("ipv6", 0, 18));
  CHECK(found("64:ff9b::192.0.2.33") == at("ipv6", 0, 19));
  CHECK(found("http://[2001:db8::1]:443/") == at("ipv6", 8, 11));
  CHECK(found("FE80::ABCD:12") == at("ipv6", 0, 13));
}

TEST_CASE("pii: detector rejects times, scopes, MACs and slices as IPv6") {
  CHECK(found("at 12:30:45 today") == "");
  CHECK(found("std::string s; std::vector<int> v;") == "");
  CHECK(found("a::b and ab::cd and dead::beef") == "");
  CHECK(found("f32::EPSILON and d3::scale and e2e::run") == "");
  CHECK(found("00:1A:2B:3C:4D:5E") == "");
  CHECK(found("1:2:3:4:5:6:7:8:9") == "");
  CHECK(found("1::2::3") == "");
  CHECK(found("x = a[1::2] + b[::2] + c[::-1]") == "");
  CHECK(found("2001:db8:1") == "");
  CHECK(found("12345::1") == "");
}

// ---------------------------------------------------------------- secrets

TEST_CASE("pii: detector finds AWS, GitHub, Google and sk- keys") {
  CHECK(found("AKIAIOSFODNN7EXAMPLE") == at("aws_access_key", 0, 20));
  CHECK(found("aws_access_key_id = ASIAY34FZKBOKMUTVV7A\n") == at("aws_access_key", 20, 20));
  const std::string ghp = "ghp_" + std::string("A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8");
  REQUIRE(ghp.size() == 40);
  CHECK(found("token: " + ghp) == at("github_token", 7, 40));
  for (const char* p : {"gho_", "ghu_", "ghs_", "ghr_"}) {
    CHECK(found(p + ghp.substr(4)) == at("github_token", 0, 40));
  }
  const std::string pat = "github_pat_11ABCDEFG0" + std::string(72, 'x');
  REQUIRE(pat.size() == 93);
  CHECK(found("GH_TOKEN=" + pat) == at("github_token", 9, 93));
  CHECK(found("key=AIzaSyA-1234567890abcdefghijklmnopqrstu") == at("api_key", 4, 39));
  CHECK(found("OPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL") == at("api_key", 15, 51));
  CHECK(found("sk-proj-Ab3_kd93-XZ0aQw1e2r3t4y5u6") == at("api_key", 0, 34));
  CHECK(found("x-api-key: sk-ant-api03-AbCdEf0123456789_xyz-QWERTY") == at("api_key", 11, 40));
}

TEST_CASE("pii: detector rejects key look-alikes") {
  CHECK(found("AKIAIOSFODNN7EXAMPL") == "");    // 19
  CHECK(found("AKIAIOSFODNN7EXAMPLEX") == "");  // 21
  CHECK(found("AKIAiosfodnn7example") == "");
  CHECK(found("XAKIAIOSFODNN7EXAMPLE") == "");
  CHECK(found("ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r") == "");    // 35
  CHECK(found("ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8s") == "");  // 37
  CHECK(found("ghx_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8") == "");
  CHECK(found("use sk-learn-style-kebab-case-names-here") == "");  // no digit or capital
  CHECK(found("sk-Ab12") == "");
  CHECK(found("risk-Ab1234567890123456789012") == "");
  CHECK(found("desk-sk-") == "");
}

TEST_CASE("pii: detector finds PEM private keys, whole block when it ends") {
  const std::string block =
      "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq\nq8s=\n-----END RSA PRIVATE KEY-----";
  CHECK(found("key:\n" + block + "\nthanks") == at("private_key", 5, block.size()));
  for (const char* label : {"PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY",
                            "DSA PRIVATE KEY", "PGP PRIVATE KEY BLOCK"}) {
    const std::string header = std::string("-----BEGIN ") + label + "-----";
    CAPTURE(label);
    CHECK(found(header + "\nb3BlbnNzaC1rZXk\n-----END " + label + "-----") ==
          at("private_key", 0, header.size() * 2 + 15));
    CHECK(found("pasted: " + header + "\nMIIE...(cut)") == at("private_key", 8, header.size()));
  }
  // JSON-escaped newlines, as in a service-account file.
  const std::string json =
      "\"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvQ\\n-----END PRIVATE KEY-----\\n\"";
  CHECK(found(json) == at("private_key", 16, 62));
}

TEST_CASE("pii: detector ignores public keys and certificates") {
  CHECK(found("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----") == "");
  CHECK(found("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----") == "");
  CHECK(found("---------- BEGIN PRIVATE KEY") == "");
  CHECK(found("-----BEGIN private key-----") == "");
}

TEST_CASE("pii: detector finds JWTs") {
  CHECK(found(kJwt) == at("jwt", 0, kJwt.size()));
  CHECK(found("Authorization: Bearer " + kJwt + "\r\n") == at("jwt", 22, kJwt.size()));
  const std::string unsigned_jwt = "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMjM0In0.";
  CHECK(found(unsigned_jwt) == at("jwt", 0, unsigned_jwt.size()));
  CHECK(found("eyJhbGciOiJIUzI1NiJ9.notajwtpayload.sig") == "");
  CHECK(found("eyJhbGciOiJIUzI1NiJ9") == "");
  CHECK(found("eyJ.eyJ.x") == "");
}

// ---------------------------------------------------------------- mixed text

TEST_CASE("pii: detector stays quiet on ordinary prose, code, UUIDs and hashes") {
  CHECK(found("In 2023, 1,234 people paid $49.99 on 12/25; see RFC 5322 section 3.4.1 and ISO 8601.") == "");
  CHECK(found("for (int i = 0; i < 100; ++i) { x[i] = i * 3.14159; } // O(n^2)") == "");
  CHECK(found("123e4567-e89b-12d3-a456-426614174000 550e8400-e29b-41d4-a716-446655440000") == "");
  CHECK(found("12345678-1234-5678-1234-567812345678") == "");
  CHECK(found("sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08") == "");
  CHECK(found("commit 3f786850e387550fdab836ed7e6dc881de23001b") == "");
  CHECK(found("md5 d41d8cd98f00b204e9800998ecf8427e, crc 0xDEADBEEF") == "");
  CHECK(found("ISBN 978-3-16-148410-0, tel. ext 1234, room 5-101, 2024-02-29T10:00:00Z") == "");
  CHECK(found("\xE4\xBB\x8A\xE5\xA4\xA9\xE6\x98\xAF"
              "2024\xE5\xB9\xB4"
              "3\xE6\x9C\x88"
              "15\xE6\x97\xA5\xEF\xBC\x8C"
              "100\xE5\x85\x83") == "");
  CHECK(found("--- a/file.cpp\n+++ b/file.cpp\n@@ -12,7 +12,8 @@") == "");
  CHECK(found("") == "");
}

TEST_CASE("pii: detector reports several findings in offset order") {
  const std::string text =
      "Name: Li, tel 13800138000, mail li@example.com, card 4111 1111 1111 1111, from 10.1.2.3";
  CHECK(found(text) == at("cn_mobile", 14, 11) + " " + at("email", 32, 14) + " " + at("credit_card", 53, 19) +
                           " " + at("ipv4", 79, 8));
  // An email whose local part is a mobile number: both, the longer first.
  CHECK(found("13800138000@139.com") == at("email", 0, 19) + " " + at("cn_mobile", 0, 11));
  const auto all = Detector().scan(text);
  REQUIRE(all.size() == 4);
  CHECK(all[0].confidence == doctest::Approx(0.85));
  CHECK(all[1].confidence == doctest::Approx(0.9));
  CHECK(all[2].confidence == doctest::Approx(1.0));
  CHECK(all[3].confidence == doctest::Approx(0.75));
}

TEST_CASE("pii: detector appends to what `out` already holds") {
  std::vector<Finding> out{Finding{PiiType::kJwt, 999, 1, 1.0}};
  Detector().scan("13800138000 and a@b.cn", out);
  REQUIRE(out.size() == 3);
  CHECK(out[0] == Finding{PiiType::kJwt, 999, 1, 1.0});
  CHECK(out[1].type == PiiType::kCnMobile);
  CHECK(out[2].type == PiiType::kEmail);
}

TEST_CASE("pii: detector survives arbitrary bytes and finds PII at both ends") {
  std::string junk;
  uint32_t x = 12345;
  for (int i = 0; i < (1 << 20); ++i) {
    x = x * 1664525u + 1013904223u;
    junk += static_cast<char>(x >> 24);
  }
  const auto noise = Detector().scan(junk);  // must not crash or hang; a few chance hits are fine
  CHECK(noise.size() < 64);
  const std::string text = "4111111111111111 " + junk + " a@example.org";
  const auto f = Detector().scan(text);
  REQUIRE(f.size() >= 2);
  CHECK(f.front() == Finding{PiiType::kCreditCard, 0, 16, 1.0});
  CHECK(f.back().type == PiiType::kEmail);
  CHECK(f.back().offset + f.back().length == text.size());
  // Truncated UTF-8 at the very end.
  CHECK(found("13800138000 \xEF\xBC") == at("cn_mobile", 0, 11));
  CHECK(found("\xEF") == "");
}

TEST_CASE("pii: detector stays linear on repeated near-miss prefixes") {
  // Each of these would make a naive matcher rescan the rest of the text from every start.
  std::string sk, jwt, pem, dashes, ip;
  for (int i = 0; i < 100000; ++i) sk += "sk-";
  for (int i = 0; i < 100000; ++i) jwt += "eyJa-";
  for (int i = 0; i < 20000; ++i) pem += "-----BEGIN EC PRIVATE KEY----- ";
  dashes.assign(1 << 20, '-');
  for (int i = 0; i < 100000; ++i) ip += "1:";
  CHECK(Detector().scan(sk).empty());
  CHECK(Detector().scan(jwt).empty());
  CHECK(Detector().scan(pem).size() == 20000);  // every header, none with an END line
  CHECK(Detector().scan(dashes).empty());
  CHECK(Detector().scan(ip).empty());
}
