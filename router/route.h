// Classify and decide for one request against a routing table: gathers the
// backends' live state and the tenant's spending, then runs the pure policy
// decision. Used by the pipeline, and by explain (which runs nothing).
#pragma once

#include <chrono>

#include "common/status.h"
#include "policies/decide.h"
#include "router/request.h"
#include "router/routing_table.h"
#include "router/usage_ledger.h"

namespace dsgw::router {

struct Route {
  policies::RequestFacts facts;
  policies::Decision decision;  // decision.error: nothing may run it
  std::vector<policies::BackendState> states;  // what the decision saw
  std::string budget_tenant;  // whose spending it counts toward (the policy's tenant, by device or name)
};

// Errors: kInvalidRequest for hints the policy cannot read. `ledger` may be null (no budgets).
Result<Route> route(const Request& request, const RoutingTable& table, const UsageLedger* ledger,
                    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// The state the policy sees for each backend of `table` serving `model`.
std::vector<policies::BackendState> snapshot(const RoutingTable& table, const std::string& model);

}  // namespace dsgw::router
