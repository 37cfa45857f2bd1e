// Maps an API key to its tenant. Stores only SHA-256 digests of keys.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"

namespace dsgw::router {

class Authenticator {
 public:
  static constexpr const char* kAnonymousTenant = "anonymous";

  // `key_sha256_to_tenant`: lower-case hex digest -> tenant. Empty: every
  // request is tenant "anonymous".
  explicit Authenticator(std::unordered_map<std::string, std::string> key_sha256_to_tenant = {});

  // `credential` is the bearer token as presented (may be empty).
  Result<std::string> authenticate(std::string_view credential) const;

  bool open() const { return tenants_.empty(); }

 private:
  std::unordered_map<std::string, std::string> tenants_;
};

}  // namespace dsgw::router
