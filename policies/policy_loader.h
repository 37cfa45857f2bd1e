// Loads config/policy.toml into a Policy, checked against the backends that
// dsgw.toml declares. Every problem is reported as file:line:column: key.path:
// what was expected, like the daemon config.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "policies/policy.h"

namespace dsgw::policies {

// `backends` in routing-table order: the Policy's backend indices follow it.
Result<Policy> load_policy(const std::string& path, const std::vector<BackendFacts>& backends);

}  // namespace dsgw::policies
