#include "router/pipeline.h"

#include <chrono>

#include "common/log.h"
#include "policies/model_route.h"

namespace dsgw::router {
namespace {

constexpr int kRetryAfterSeconds = 1;

// Forwards events to the client's channel and keeps what accounting needs.
class AccountingSink final : public EventSink {
 public:
  explicit AccountingSink(EventSink& out) : out_(out) {}

  bool emit(Event event) override {
    if (const auto* d = std::get_if<Delta>(&event); d && !first_token_at_) {
      if (!d->content.empty() || !d->reasoning.empty()) first_token_at_ = Clock::now();
    } else if (const auto* u = std::get_if<Usage>(&event)) {
      usage_ = *u;
    } else if (const auto* f = std::get_if<Finish>(&event)) {
      outcome_ = "finish:" + f->reason;
    } else if (const auto* e = std::get_if<Failure>(&event)) {
      outcome_ = "error";
      error_ = e->error.message;
    }
    return out_.emit(std::move(event));
  }
  bool cancelled() const override { return out_.cancelled(); }
  void on_cancel(std::function<void()> callback) override { out_.on_cancel(std::move(callback)); }

  void log_done(const Request& request, const std::string& backend) const {
    using std::chrono::duration_cast;
    using std::chrono::milliseconds;
    const auto now = Clock::now();
    auto line = log::info("request.done");
    line.kv("request_id", request.id)
        .kv("tenant", request.tenant)
        .kv("backend", backend)
        .kv("model", request.model)
        .kv("stream", request.stream)
        .kv("outcome", out_.cancelled() && outcome_.empty() ? std::string("cancelled") : outcome_)
        .kv("prompt_tokens", usage_.prompt_tokens)
        .kv("completion_tokens", usage_.completion_tokens)
        .kv("cached_prompt_tokens", usage_.cached_prompt_tokens)
        .kv("duration_ms",
            static_cast<int64_t>(duration_cast<milliseconds>(now - request.received_at).count()));
    if (first_token_at_) {
      line.kv("ttft_ms", static_cast<int64_t>(
                             duration_cast<milliseconds>(*first_token_at_ - request.received_at).count()));
    }
    if (!error_.empty()) line.kv("error", error_);
  }

 private:
  using Clock = std::chrono::steady_clock;
  EventSink& out_;
  std::optional<Clock::time_point> first_token_at_;
  Usage usage_;
  std::string outcome_;
  std::string error_;
};

// Runs one placed request to its end: the dispatch and account stages.
void execute(const Placement& placement, EventSink& out) {
  AccountingSink sink(out);
  const Request& request = placement.request();
  try {
    placement.backend().generate(request, sink);
  } catch (const std::exception& e) {  // a backend bug must not take the daemon down
    log::error("backend.exception").kv("request_id", request.id).kv("error", e.what());
    sink.emit(Failure{make_error(ErrorCode::kInternal, "internal error in backend")});
  }
  sink.log_done(request, placement.backend_name());
}

}  // namespace

Pipeline::Pipeline(int max_inflight) : admission_(max_inflight), workers_(max_inflight) {}

Result<Placement> Pipeline::place(Request request, const RoutingTable& table) {
  auto tenant = table.authenticator.authenticate(request.credential);
  request.credential.clear();
  if (!tenant) return tenant.error();
  request.tenant = std::move(tenant.value());

  auto decision = policies::route_by_model(request, table.backends);
  if (!decision) return decision.error();

  auto permit = admission_.try_acquire();
  if (!permit) {
    Error e = make_error(ErrorCode::kOverloaded,
                         "dsgw is at capacity (" + std::to_string(admission_.capacity()) +
                             " requests in flight); retry shortly");
    e.retry_after_seconds = kRetryAfterSeconds;
    return e;
  }
  return Placement(std::move(request), std::move(decision->backend), std::move(decision->rule),
                   std::move(*permit));
}

std::shared_ptr<EventChannel> Pipeline::start(Placement placement) {
  auto channel = std::make_shared<EventChannel>();
  workers_.post([channel, placement = std::make_shared<Placement>(std::move(placement))] {
    execute(*placement, *channel);
    channel->close();
  });
  return channel;
}

void Pipeline::run(Placement placement, EventSink& sink) { execute(placement, sink); }

}  // namespace dsgw::router
