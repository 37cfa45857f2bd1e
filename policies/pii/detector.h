// The built-in PII and secret detector of the policy engine: finds data that must not leave the
// device (card numbers, IBANs, Chinese resident IDs and mobiles, phones, emails, IP addresses,
// cloud keys, tokens, private keys) in a prompt's text.
//
// Numbers are checksum-validated, not just matched: a card needs Luhn, a known IIN and that
// network's length; an IBAN needs mod-97 and its country's length; a resident ID needs MOD 11-2
// and a real birth date. Every number needs a boundary on both sides (no ASCII or full-width
// letter or digit, not the fraction of a decimal), so a longer digit run that merely contains a
// valid number does not fire. Digits may be full-width (U+FF10..U+FF19). Card, ID and mobile
// digits may be grouped by single spaces or dashes (ASCII, U+00A0, U+3000, U+FF0D), one kind per
// number; a card's groups may also be joined by one tab or by two or three spaces (pasted
// tables), and a card may wrap onto the next line at a group boundary; a grouped card inside a
// longer run of 4-6 digit groups on one line (a table of numbers) does not fire. IBAN groups of
// four may be joined by spaces, dashes or U+00A0. Emails may have internationalised domains
// (UTF-8 or punycode labels, 例子.中国, xn--fsqu00a.xn--fiqs8s) and UTF-8 local parts.
//
// What each type accepts is documented where it is matched (numbers.cpp, network.cpp,
// secrets.cpp). Not detected, by design or not yet: a compact card split at an arbitrary point
// across lines; cards grouped by dots or by four or more spaces; 15-digit (pre-1999) resident
// IDs; phones without "+" (national formats such as 020-12345678 or (415) 555-2671), except
// Chinese mobiles; emails with quoted local parts, a full-width '@' or full-width dots; IPv6 zone
// ids (the finding stops before '%') and IPv6 written without any decimal digit (dead::beef); PEM
// blocks whose END line is more than 64 KiB away (only the BEGIN line is reported); secrets other
// than the listed prefixes (no generic "password=" or high-entropy detection). An address at a
// UTF-8 domain written in Chinese prose runs on into the text that follows it (up to 63 bytes),
// as there is no space to end it.
//
// One pass, hand-written, no regex and no allocation beyond growing `out`. Only positions come
// back: values are never copied, logged or printed.
#pragma once

#include <string_view>
#include <vector>

#include "policies/pii/pii_type.h"

namespace dsgw::policies::pii {

class Detector {
 public:
  // Appends every finding in `text` (UTF-8, any size; invalid UTF-8 is scanned as bytes) to
  // `out`, ordered by offset (then longer first). Findings of different types may overlap (an
  // email whose local part is a mobile number gives both); one value is reported once (a +86
  // mobile is cn_mobile, not also phone). Never throws: if `out` cannot grow, it keeps the
  // findings that fit.
  void scan(std::string_view text, std::vector<Finding>& out) const noexcept;
  std::vector<Finding> scan(std::string_view text) const;
};

}  // namespace dsgw::policies::pii
