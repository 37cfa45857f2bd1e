// Every request, from any front door, goes through the same stages:
//   authenticate -> decide -> dispatch -> account
// place() runs the first two and reserves a place in flight; then either
// start() runs the generation on a worker thread (events arrive on a channel),
// or run() runs it on the caller's thread straight into the caller's sink.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "router/admission.h"
#include "router/event_channel.h"
#include "router/request.h"
#include "router/routing_table.h"
#include "router/worker_pool.h"

namespace dsgw::router {

// A request that passed authentication and routing, holding its place in
// flight until it has run.
class Placement {
 public:
  const std::string& backend_name() const { return backend_->info().name; }
  const std::string& rule() const { return rule_; }
  const Request& request() const { return request_; }
  backends::Backend& backend() const { return *backend_; }

 private:
  friend class Pipeline;
  Placement(Request request, std::shared_ptr<backends::Backend> backend, std::string rule,
            Admission::Permit permit)
      : request_(std::move(request)), backend_(std::move(backend)), rule_(std::move(rule)),
        permit_(std::move(permit)) {}

  Request request_;
  std::shared_ptr<backends::Backend> backend_;  // kept alive across reloads
  std::string rule_;
  Admission::Permit permit_;
};

class Pipeline {
 public:
  // `max_inflight` generations at once; more are refused with kOverloaded.
  explicit Pipeline(int max_inflight);

  // Authenticates (sets the tenant) and decides where the request runs.
  // Errors: kUnauthenticated, kNotFound, kUnavailable, kOverloaded.
  Result<Placement> place(Request request, const RoutingTable& table);

  // Runs on a worker thread; the events arrive on the returned channel.
  std::shared_ptr<EventChannel> start(Placement placement);
  // Runs on the calling thread; returns when the last event is in `sink`.
  void run(Placement placement, EventSink& sink);

  int in_flight() const { return admission_.in_flight(); }

 private:
  Admission admission_;
  WorkerPool workers_;  // destroyed first: joins generations still running
};

}  // namespace dsgw::router
