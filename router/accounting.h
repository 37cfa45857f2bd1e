// The account stage: after a request ran, its usage-ledger entry (tokens and
// actual cost), its log line and its audit-log line.
#pragma once

#include <chrono>
#include <string_view>

#include "router/dispatcher.h"
#include "router/request.h"
#include "router/route.h"
#include "router/routing_table.h"

namespace dsgw::router {

struct Recorders;

// The actual cost of what `result` used on the backend that served it.
double actual_cost_usd(const RoutingTable& table, const DispatchResult& result,
                       std::chrono::system_clock::time_point at);

// The usage-ledger entry (tokens and actual cost, which settles the
// request's reservation); returns the cost.
double settle(const Recorders& recorders, const Request& request, const RoutingTable& table, const Route& route,
              const DispatchResult& result);

// The request.done log line and the audit line, with the cost settle() found.
void report(const Recorders& recorders, const Request& request, const RoutingTable& table, const Route& route,
            const DispatchResult& result, double cost);

// Both.
void account(const Recorders& recorders, const Request& request, const RoutingTable& table, const Route& route,
             const DispatchResult& result);

// An audit line for a request refused before dispatch (`outcome`: the error code).
void account_refusal(const Recorders& recorders, const Request& request, const RoutingTable& table,
                     const Route& route, std::string_view outcome);

}  // namespace dsgw::router
