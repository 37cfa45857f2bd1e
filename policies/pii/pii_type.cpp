#include "policies/pii/pii_type.h"

#include <array>

namespace dsgw::policies::pii {

namespace {

constexpr std::array<std::string_view, kPiiTypeCount> kNames = {
    "credit_card", "iban",           "cn_resident_id", "cn_mobile",   "phone",   "email", "ipv4",
    "ipv6",        "aws_access_key", "github_token",   "private_key", "api_key", "jwt",
};
static_assert(static_cast<int>(PiiType::kJwt) + 1 == kPiiTypeCount);

}  // namespace

std::string_view name(PiiType type) {
  const auto i = static_cast<size_t>(type);
  return i < kNames.size() ? kNames[i] : std::string_view("unknown");
}

std::optional<PiiType> parse_pii_type(std::string_view text) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == text) return static_cast<PiiType>(i);
  }
  return std::nullopt;
}

}  // namespace dsgw::policies::pii
