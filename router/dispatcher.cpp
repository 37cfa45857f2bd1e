#include "router/dispatcher.h"

#include <random>
#include <thread>

#include "common/log.h"
#include "router/backoff.h"

namespace dsgw::router {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Errors that say the backend itself is broken (not just busy): they count
// toward its circuit breaker.
bool counts_against_breaker(ErrorCode code) {
  return code == ErrorCode::kUpstreamError || code == ErrorCode::kUnavailable || code == ErrorCode::kTimeout;
}

// Failures after which the same backend may well answer a moment later.
bool is_worth_retrying(ErrorCode code) {
  return code == ErrorCode::kUpstreamError || code == ErrorCode::kUnavailable ||
         code == ErrorCode::kUpstreamRateLimited || code == ErrorCode::kOverloaded;
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// One attempt's view of the client's sink: holds back a retryable failure
// that comes before anything was forwarded, so the next candidate can run.
class AttemptSink final : public EventSink {
 public:
  AttemptSink(EventSink& out, int backend, std::atomic<int>& served)
      : out_(out), backend_(backend), served_(served) {}

  bool emit(Event event) override {
    if (const auto* f = std::get_if<Failure>(&event)) {
      failure_ = f->error;
      if (!committed_ && is_retryable(f->error.code)) return false;  // held back: failover
    }
    if (!committed_) {
      committed_ = true;
      served_.store(backend_);
    }
    if (const auto* d = std::get_if<Delta>(&event); d && !first_token_at_) {
      if (!d->content.empty() || !d->reasoning.empty()) first_token_at_ = Clock::now();
    } else if (const auto* u = std::get_if<Usage>(&event)) {
      usage_ = *u;
    } else if (const auto* f = std::get_if<Finish>(&event)) {
      finish_ = f->reason;
    }
    return out_.emit(std::move(event));
  }
  bool cancelled() const override { return out_.cancelled(); }
  void on_cancel(std::function<void()> callback) override { out_.on_cancel(std::move(callback)); }

  bool committed() const { return committed_; }
  const std::optional<Error>& failure() const { return failure_; }
  const std::optional<std::string>& finish() const { return finish_; }
  const Usage& usage() const { return usage_; }
  std::optional<Clock::time_point> first_token_at() const { return first_token_at_; }

 private:
  EventSink& out_;
  const int backend_;
  std::atomic<int>& served_;
  bool committed_ = false;
  std::optional<Error> failure_;
  std::optional<std::string> finish_;
  Usage usage_;
  std::optional<Clock::time_point> first_token_at_;
};

// Sleeps `delay`, waking early when the client goes away.
void wait_unless_cancelled(milliseconds delay, const EventSink& out) {
  const auto until = Clock::now() + delay;
  while (!out.cancelled() && Clock::now() < until) {
    std::this_thread::sleep_for(std::min<Clock::duration>(milliseconds(20), until - Clock::now()));
  }
}

void run_attempt(const Request& request, backends::Backend& backend, AttemptSink& sink) {
  try {
    backend.generate(request, sink);
  } catch (const std::exception& e) {  // a backend bug must not take the daemon down
    log::error("backend.exception").kv("request_id", request.id).kv("error", e.what());
    sink.emit(Failure{make_error(ErrorCode::kInternal, "internal error in backend")});
  }
}

// Reports an attempt's end to the breaker and the latency model.
void learn(BackendStats& stats, const AttemptSink& sink, Clock::time_point started, bool cancelled) {
  const auto& failure = sink.failure();
  if (failure && counts_against_breaker(failure->code)) {
    stats.breaker.on_failure();
  } else if (sink.finish() || (failure && !cancelled)) {
    stats.breaker.on_success();  // it answered, even if only to refuse the request
  } else {
    stats.breaker.on_abandoned();
  }
  if (!sink.finish() || !sink.first_token_at()) return;
  const auto now = Clock::now();
  const double ttft = ms_between(started, *sink.first_token_at());
  const int64_t tokens = sink.usage().completion_tokens;
  const double tpot = tokens > 1 ? ms_between(*sink.first_token_at(), now) / static_cast<double>(tokens - 1) : -1;
  stats.latency.observe(ttft, tpot);
}

}  // namespace

bool is_retryable(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUpstreamError:
    case ErrorCode::kUnavailable:
    case ErrorCode::kTimeout:
    case ErrorCode::kUpstreamRateLimited:
    case ErrorCode::kOverloaded:
      return true;
    default:
      return false;
  }
}

DispatchResult dispatch(const Request& request, const RoutingTable& table, const std::vector<int>& order,
                        EventSink& out, std::atomic<int>& served) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const policies::Dispatch& policy = table.policy->dispatch;
  const BackoffPolicy backoff{milliseconds(policy.retry_base_ms), milliseconds(policy.retry_cap_ms)};
  DispatchResult result;
  std::optional<Error> last_error;
  int attempts = 0;
  for (size_t i = 0; i < order.size() && attempts < policy.max_attempts && !out.cancelled(); ++i) {
    const int index = order[i];
    backends::Backend& backend = *table.backends[static_cast<size_t>(index)];
    BackendStats& stats = *table.stats[static_cast<size_t>(index)];
    const bool last_candidate = i + 1 == order.size();
    for (int retry = 0; attempts < policy.max_attempts && !out.cancelled(); ++retry) {
      if (!stats.breaker.allow()) {
        result.attempts.push_back({index, "circuit_open"});
        break;
      }
      ++attempts;
      AttemptSink sink(out, index, served);
      const auto started = Clock::now();
      run_attempt(request, backend, sink);
      learn(stats, sink, started, out.cancelled());
      const auto& failure = sink.failure();
      result.attempts.push_back({index, failure ? error_code_name(failure->code) : "ok"});
      if (sink.committed() || out.cancelled()) {
        result.served = sink.committed() ? index : -1;
        result.usage = sink.usage();
        result.busy_seconds = std::chrono::duration<double>(Clock::now() - started).count();
        result.outcome = sink.finish() ? *sink.finish() : failure ? "error" : "cancelled";
        result.error = failure;
        if (sink.first_token_at()) result.ttft_ms = ms_between(request.received_at, *sink.first_token_at());
        return result;
      }
      last_error = failure;
      log::info("dispatch.failover")
          .kv("request_id", request.id)
          .kv("backend", backend.info().name)
          .kv("error", failure ? failure->message : std::string("no result"));
      if (!last_candidate) break;  // fail over at once
      // The same backend again only for refusals that say "later"; one that
      // timed out or whose client-side failure is ours would just repeat.
      if (!failure || !is_worth_retrying(failure->code)) break;
      std::optional<milliseconds> retry_after;
      if (failure && failure->retry_after_seconds) retry_after = std::chrono::seconds(*failure->retry_after_seconds);
      const auto delay = retry_delay(backoff, retry, retry_after, milliseconds(policy.max_retry_after_ms), rng);
      if (!delay || attempts >= policy.max_attempts) break;
      wait_unless_cancelled(*delay, out);
    }
  }
  result.outcome = out.cancelled() ? "cancelled" : "error";
  Error error = last_error.value_or(make_error(ErrorCode::kUnavailable,
                                               "every backend allowed for this request is failing (circuit open)"));
  if (last_error && attempts > 1) {
    error.message = "all " + std::to_string(attempts) + " attempts failed; last: " + error.message;
  }
  result.error = error;
  if (!out.cancelled()) out.emit(Failure{error});
  return result;
}

}  // namespace dsgw::router
