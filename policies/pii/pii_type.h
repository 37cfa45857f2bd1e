// What the PII/secret detector can find, and what a finding says about it.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace dsgw::policies::pii {

enum class PiiType {
  kCreditCard,
  kIban,
  kCnResidentId,
  kCnMobile,
  kPhone,
  kEmail,
  kIpv4,
  kIpv6,
  kAwsAccessKey,
  kGithubToken,
  kPrivateKey,
  kApiKey,
  kJwt,
};
inline constexpr int kPiiTypeCount = 13;

// Stable snake_case names used in config and logs: "credit_card", "iban", "cn_resident_id",
// "cn_mobile", "phone", "email", "ipv4", "ipv6", "aws_access_key", "github_token",
// "private_key", "api_key", "jwt".
std::string_view name(PiiType type);
// The inverse of name(); nullopt for anything else (names are case-sensitive).
std::optional<PiiType> parse_pii_type(std::string_view name);

// The confidence the detector gives each type:
//   1.0   checksum-validated: credit_card (Luhn + IIN + length), iban (mod-97 + country length),
//         cn_resident_id (MOD 11-2 + birth date); unmistakable prefix or structure:
//         aws_access_key, github_token, private_key, api_key, jwt.
//   0.9   email (local@domain.tld).
//   0.85  cn_mobile (1[3-9] + 9 digits, boundary-checked; no checksum exists).
//   0.75  ipv4, ipv6 (shape only; version strings and times are excluded).
//   0.7   phone (E.164 "+" and 8-15 digits; shape only).
inline constexpr double kConfidenceValidated = 1.0;
inline constexpr double kConfidenceEmail = 0.9;
inline constexpr double kConfidenceCnMobile = 0.85;
inline constexpr double kConfidenceIp = 0.75;
inline constexpr double kConfidencePhone = 0.7;

constexpr double confidence_of(PiiType type) {
  switch (type) {
    case PiiType::kEmail:
      return kConfidenceEmail;
    case PiiType::kCnMobile:
      return kConfidenceCnMobile;
    case PiiType::kIpv4:
    case PiiType::kIpv6:
      return kConfidenceIp;
    case PiiType::kPhone:
      return kConfidencePhone;
    default:
      return kConfidenceValidated;
  }
}

// One match. offset and length are bytes in the original (UTF-8) text; the value itself is never
// copied out.
struct Finding {
  PiiType type;
  size_t offset;
  size_t length;
  double confidence;

  friend bool operator==(const Finding&, const Finding&) = default;
};

}  // namespace dsgw::policies::pii
