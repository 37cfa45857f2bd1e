// Every request, from any front door, goes through the same stages:
//   authenticate -> classify -> decide -> dispatch -> account
// place() runs the first three and reserves a place in flight; then either
// start() runs the generation on a worker thread (events arrive on a channel),
// or run() runs it on the caller's thread straight into the caller's sink.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "common/status.h"
#include "router/admission.h"
#include "router/audit_log.h"
#include "router/dispatcher.h"
#include "router/event_channel.h"
#include "router/request.h"
#include "router/route.h"
#include "router/routing_table.h"
#include "router/usage_ledger.h"
#include "router/worker_pool.h"

namespace dsgw::router {

// Which backend is answering a placed request: the first candidate until a
// failover moves it. Safe to read from the front door's thread.
class ServedBy {
 public:
  ServedBy(std::shared_ptr<const RoutingTable> table, int first)
      : table_(std::move(table)), index_(std::make_shared<std::atomic<int>>(first)) {}
  std::string name() const { return table_->backends[static_cast<size_t>(index_->load())]->info().name; }
  std::atomic<int>& index() const { return *index_; }

 private:
  std::shared_ptr<const RoutingTable> table_;
  std::shared_ptr<std::atomic<int>> index_;
};

// A request that passed authentication and routing, holding its place in
// flight until it has run.
class Placement {
 public:
  const Request& request() const { return request_; }
  const Route& route() const { return route_; }
  const RoutingTable& table() const { return *table_; }
  // X-Dsgw-Rule: the rule that decided where it runs.
  std::string rule() const { return std::string(route_.decision.rule_id(*table_->policy)); }
  // X-Dsgw-Backend, as it stands now.
  const ServedBy& served_by() const { return served_by_; }

 private:
  friend class Pipeline;
  Placement(Request request, std::shared_ptr<const RoutingTable> table, Route route, Admission::Permit permit)
      : request_(std::move(request)), table_(table), route_(std::move(route)), permit_(std::move(permit)),
        served_by_(std::move(table), route_.decision.order.front()) {}

  // Gives back the place in flight and the budget reservation (once the
  // request's usage is recorded).
  void release() {
    [[maybe_unused]] const Admission::Permit permit = std::move(permit_);
    [[maybe_unused]] const UsageLedger::Reservation held = std::move(route_.held);
  }

  Request request_;
  std::shared_ptr<const RoutingTable> table_;  // keeps backends alive across reloads
  Route route_;
  Admission::Permit permit_;
  ServedBy served_by_;
};

// What outlives a config: where usage and decisions are recorded. Either may
// be null (no budgets, no audit log).
struct Recorders {
  UsageLedger* ledger = nullptr;
  AuditLog* audit = nullptr;
};

// A request that ran on the caller's thread (Pipeline::run). Its usage is in
// the ledger and its place in flight is free already; its log and audit lines
// are written by record(), or when it is destroyed: after the front door has
// sent the answer, the way an access log is written after the response.
class Ran {
 public:
  Ran(Ran&&) noexcept;
  Ran& operator=(Ran&&) noexcept;
  ~Ran();
  void record();

 private:
  friend class Pipeline;
  struct State;
  explicit Ran(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

class Pipeline {
 public:
  // `max_inflight` generations at once; more are refused with kOverloaded.
  explicit Pipeline(int max_inflight, Recorders recorders = {});

  // Authenticates (sets the tenant), classifies and decides where the request
  // runs. Errors: kUnauthenticated, kInvalidRequest (bad hints), kNotFound,
  // kUnavailable (nothing allowed may run it), kOverloaded (capacity, or
  // subcode budget_exceeded).
  Result<Placement> place(Request request, std::shared_ptr<const RoutingTable> table);

  // The decision place() would make, without running or admitting anything.
  Result<Route> explain(Request request, const RoutingTable& table) const;

  // Runs on a worker thread; the events arrive on the returned channel.
  std::shared_ptr<EventChannel> start(Placement placement);
  // Runs on the calling thread; returns when the last event is in `sink`.
  [[nodiscard]] Ran run(Placement placement, EventSink& sink);

  int in_flight() const { return admission_.in_flight(); }

 private:
  void execute(const Placement& placement, EventSink& sink) const;
  DispatchResult dispatch_placed(const Placement& placement, EventSink& sink) const;

  Recorders recorders_;
  Admission admission_;
  WorkerPool workers_;  // destroyed first: joins generations still running
};

}  // namespace dsgw::router
