#include "backends/local/tokenizer/nfc.h"

#include <doctest/doctest.h>

#include "backends/local/tokenizer/unicode_data.h"

namespace dsgw::local {
namespace {

TEST_CASE("NFC composes, reorders and leaves normalised text alone") {
  CHECK(nfc_normalize("cafe\u0301") == "café");
  CHECK(nfc_normalize("café") == "café");
  CHECK(is_nfc_quick_yes("plain ASCII, Latin-1 é and 中文"));
  CHECK_FALSE(is_nfc_quick_yes("e\u0301"));
  // Canonical ordering: dot below (220) before circumflex (230), then compose.
  CHECK(nfc_normalize("e\u0302\u0323") == "\u1EC7");
  CHECK(nfc_normalize("e\u0323\u0302") == "\u1EC7");
  // Two marks of the same class keep their order.
  CHECK(nfc_normalize("a\u0301\u0300") == "\u00E1\u0300");
  // Singletons and composition exclusions decompose for good.
  CHECK(nfc_normalize("\u2126") == "\u03A9");          // OHM SIGN -> OMEGA
  CHECK(nfc_normalize("\u212B") == "\u00C5");          // ANGSTROM SIGN -> Å
  CHECK(nfc_normalize("\u0958") == "\u0915\u093C");    // DEVANAGARI QA is excluded
  CHECK(nfc_normalize("\u0344") == "\u0308\u0301");    // non-starter decomposition
  // a + ogonek composes; ą + acute has no composite, so the acute stays.
  CHECK(nfc_normalize("a\u0328\u0301") == "\u0105\u0301");
  // Starter + starter composition (Bengali O).
  CHECK(nfc_normalize("\u09C7\u09BE") == "\u09CB");
}

TEST_CASE("NFC composes conjoining Hangul jamo algorithmically") {
  CHECK(nfc_normalize("\u1100\u1161") == "\uAC00");             // 가
  CHECK(nfc_normalize("\u1100\u1161\u11A8") == "\uAC01");       // 각
  CHECK(nfc_normalize("\uAC00\u11A8") == "\uAC01");
  CHECK(nfc_normalize("\u1112\u1161\u11AB\u1100") == "\uD55C\u1100");  // 한 + a lone L
  CHECK(nfc_normalize("\uD55C") == "\uD55C");
}

TEST_CASE("Unicode tables answer the pre-tokenizer's questions") {
  using unicode::CharClass;
  CHECK(unicode::char_class('a') == CharClass::kLetter);
  CHECK(unicode::char_class(U'中') == CharClass::kLetter);
  CHECK(unicode::char_class(U'𝔘') == CharClass::kLetter);
  CHECK(unicode::char_class('7') == CharClass::kNumber);
  CHECK(unicode::char_class(U'Ⅻ') == CharClass::kNumber);  // Nl
  CHECK(unicode::char_class(U'½') == CharClass::kNumber);  // No
  CHECK(unicode::char_class(' ') == CharClass::kWhiteSpace);
  CHECK(unicode::char_class(0x85) == CharClass::kWhiteSpace);
  CHECK(unicode::char_class(0x3000) == CharClass::kWhiteSpace);
  CHECK(unicode::char_class(0xFEFF) == CharClass::kOther);
  CHECK(unicode::char_class(0x1C) == CharClass::kOther);  // str.isspace() says yes; White_Space no
  CHECK(unicode::char_class(0x301) == CharClass::kOther);  // Mn
  CHECK(unicode::char_class(U'😀') == CharClass::kOther);
  CHECK(unicode::is_assigned(U'a'));
  CHECK_FALSE(unicode::is_assigned(0x0378));
  CHECK(unicode::combining_class(0x301) == 230);
  CHECK(unicode::combining_class('a') == 0);
  CHECK(std::string(unicode::kUnicodeVersion) == "14.0.0");
}

}  // namespace
}  // namespace dsgw::local
