// The dispatch stage: runs a request on its decision's candidates in order.
// It fails over to the next candidate only while nothing has reached the
// client; once the first event is out, the stream belongs to that backend and
// a later failure ends it with a clean error event. Retries back off with
// jitter and honour Retry-After. Each attempt feeds the backend's circuit
// breaker and latency model.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "policies/policy.h"
#include "router/events.h"
#include "router/request.h"
#include "router/routing_table.h"

namespace dsgw::router {

struct Attempt {
  int backend = 0;
  std::string outcome;  // "ok", "circuit_open", or the error code that ended it
};

struct DispatchResult {
  int served = -1;  // the backend whose answer the client got; -1 if none
  std::vector<Attempt> attempts;
  Usage usage;
  std::string outcome;  // stop | length | ... | error | cancelled
  std::optional<Error> error;
  double busy_seconds = 0;  // the served attempt's duration
  std::optional<double> ttft_ms;  // from receipt to the first token, if one came
};

// `served` is set to the serving backend's index before its first event
// reaches `out`, so a front door can name it in its headers.
DispatchResult dispatch(const Request& request, const RoutingTable& table, const std::vector<int>& order,
                        EventSink& out, std::atomic<int>& served);

// Errors worth trying another backend for, when nothing was sent yet.
bool is_retryable(ErrorCode code);

}  // namespace dsgw::router
