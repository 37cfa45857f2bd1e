#include "router/authenticator.h"

#include "common/sha256.h"

namespace dsgw::router {

Authenticator::Authenticator(std::unordered_map<std::string, std::string> key_sha256_to_tenant)
    : tenants_(std::move(key_sha256_to_tenant)) {}

Result<std::string> Authenticator::authenticate(std::string_view credential) const {
  if (tenants_.empty()) return std::string(kAnonymousTenant);
  if (credential.empty()) {
    return make_error(ErrorCode::kUnauthenticated,
                      "missing API key: send it as \"Authorization: Bearer <key>\"");
  }
  // Comparing digests, not keys, keeps the lookup free of key-dependent timing.
  const auto it = tenants_.find(sha256_hex(credential));
  if (it == tenants_.end()) return make_error(ErrorCode::kUnauthenticated, "incorrect API key provided");
  return it->second;
}

}  // namespace dsgw::router
