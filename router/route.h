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
  UsageLedger::Reservation held;  // the first candidate's estimate, while the request runs (Hold::kEstimate)
};

// What route() holds against the tenant's budget: nothing (explain), or the
// estimated cost and tokens of the backend it chose, until the Route goes.
enum class Hold { kNothing, kEstimate };

// Errors: kInvalidRequest for hints the policy cannot read. `ledger` may be
// null (no budgets). With a ledger, the budget check and the hold are one
// step, so concurrent requests of a tenant cannot overrun its budget together.
Result<Route> route(const Request& request, const RoutingTable& table, UsageLedger* ledger, Hold hold,
                    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// The state the policy sees for each backend of `table` serving `model`.
std::vector<policies::BackendState> snapshot(const RoutingTable& table, const std::string& model);

}  // namespace dsgw::router
