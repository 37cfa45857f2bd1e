#include "router/pipeline.h"

#include "router/accounting.h"
#include "router/dispatcher.h"

namespace dsgw::router {
namespace {

constexpr int kRetryAfterSeconds = 1;

}  // namespace

Pipeline::Pipeline(int max_inflight, Recorders recorders)
    : recorders_(recorders), admission_(max_inflight), workers_(max_inflight) {}

Result<Route> Pipeline::explain(Request request, const RoutingTable& table) const {
  auto tenant = table.authenticator.authenticate(request.credential);
  if (!tenant) return tenant.error();
  request.tenant = std::move(tenant.value());
  return route(request, table, recorders_.ledger, Hold::kNothing);
}

Result<Placement> Pipeline::place(Request request, std::shared_ptr<const RoutingTable> table) {
  auto tenant = table->authenticator.authenticate(request.credential);
  request.credential.clear();
  if (!tenant) return tenant.error();
  request.tenant = std::move(tenant.value());

  auto routed = route(request, *table, recorders_.ledger, Hold::kEstimate);
  if (!routed) return routed.error();
  if (const auto& denied = routed->decision.error) {
    account_refusal(recorders_, request, *table, *routed, denied->subcode.empty() ? error_code_name(denied->code) : denied->subcode);
    return *denied;
  }
  if (!request.hints.priority) request.hints.priority = routed->decision.priority;

  auto permit = admission_.try_acquire();
  if (!permit) {
    Error e = make_error(ErrorCode::kOverloaded,
                         "dsgw is at capacity (" + std::to_string(admission_.capacity()) +
                             " requests in flight); retry shortly");
    e.retry_after_seconds = kRetryAfterSeconds;
    return e;
  }
  return Placement(std::move(request), std::move(table), std::move(routed.value()), std::move(*permit));
}

struct Ran::State {
  Recorders recorders;
  Placement placement;
  DispatchResult result;
  double cost = 0;
};

Ran::Ran(std::unique_ptr<State> state) : state_(std::move(state)) {}
Ran::Ran(Ran&&) noexcept = default;
Ran& Ran::operator=(Ran&& other) noexcept {
  if (this != &other) {
    record();
    state_ = std::move(other.state_);
  }
  return *this;
}
Ran::~Ran() { record(); }

void Ran::record() {
  if (!state_) return;
  const Placement& p = state_->placement;
  report(state_->recorders, p.request(), p.table(), p.route(), state_->result, state_->cost);
  state_.reset();
}

DispatchResult Pipeline::dispatch_placed(const Placement& placement, EventSink& sink) const {
  return dispatch(placement.request(), placement.table(), placement.route().decision.order, sink,
                  placement.served_by().index());
}

void Pipeline::execute(const Placement& placement, EventSink& sink) const {
  account(recorders_, placement.request(), placement.table(), placement.route(), dispatch_placed(placement, sink));
}

std::shared_ptr<EventChannel> Pipeline::start(Placement placement) {
  auto channel = std::make_shared<EventChannel>();
  workers_.post([this, channel, placement = std::make_shared<Placement>(std::move(placement))] {
    execute(*placement, *channel);
    channel->close();
  });
  return channel;
}

Ran Pipeline::run(Placement placement, EventSink& sink) {
  DispatchResult result = dispatch_placed(placement, sink);
  const double cost = settle(recorders_, placement.request(), placement.table(), placement.route(), result);
  // A client slow to read its answer must not hold capacity or budget.
  placement.release();
  return Ran(std::make_unique<Ran::State>(Ran::State{recorders_, std::move(placement), std::move(result), cost}));
}

}  // namespace dsgw::router
