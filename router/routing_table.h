// What the router needs to place a request, as one immutable snapshot. Reloads
// build a new one; requests keep the one they started with.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "policies/policy.h"
#include "router/authenticator.h"
#include "router/backend_stats.h"

namespace dsgw::router {

struct RoutingTable {
  std::vector<std::shared_ptr<backends::Backend>> backends;  // config order
  std::vector<std::shared_ptr<BackendStats>> stats;          // same index; outlive reloads
  std::shared_ptr<const policies::Policy> policy;            // backend indices as above
  Authenticator authenticator;
  std::string revision;  // identifies the config the table was built from

  const backends::Backend* find(std::string_view name) const {
    for (const auto& b : backends) {
      if (b->info().name == name) return b.get();
    }
    return nullptr;
  }
};

}  // namespace dsgw::router
