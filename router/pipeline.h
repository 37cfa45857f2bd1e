// Every request, from any front door, goes through the same stages:
//   authenticate -> decide -> dispatch -> account
// start() runs the first two on the caller's thread and hands the generation
// to a worker thread; the caller then reads events from the returned channel.
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

struct Dispatch {
  std::string backend;  // name of the backend that runs it
  std::string rule;     // the rule that chose it
  std::shared_ptr<EventChannel> events;
};

class Pipeline {
 public:
  // `max_inflight` generations at once; more are refused with kOverloaded.
  explicit Pipeline(int max_inflight);

  // Authenticates (sets request.tenant), decides and starts the generation.
  // Errors: kUnauthenticated, kNotFound, kUnavailable, kOverloaded.
  Result<Dispatch> start(Request request, std::shared_ptr<const RoutingTable> table);

  int in_flight() const { return admission_.in_flight(); }

 private:
  Admission admission_;
  WorkerPool workers_;  // destroyed first: joins generations still running
};

}  // namespace dsgw::router
