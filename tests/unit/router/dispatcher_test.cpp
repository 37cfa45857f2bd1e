#include "router/dispatcher.h"

#include <doctest/doctest.h>

#include <future>
#include <mutex>

#include "policies/policy.h"
#include "tests/unit/router/fake_backend.h"
#include "tests/unit/test_util.h"

using namespace std::chrono_literals;
using dsgw::ErrorCode;
using dsgw::make_error;
using dsgw::router::BackendStats;
using dsgw::router::CircuitBreaker;
using dsgw::router::Delta;
using dsgw::router::dispatch;
using dsgw::router::DispatchResult;
using dsgw::router::Event;
using dsgw::router::EventSink;
using dsgw::router::Failure;
using dsgw::router::Finish;
using dsgw::router::Request;
using dsgw::router::RoutingTable;
using dsgw::router::Usage;
using dsgw::test::contains;
using dsgw::test::eventually;
using dsgw::test::FakeBackend;
using dsgw::test::make_fake;

namespace {

// Retries wait at most a couple of milliseconds unless a test says otherwise.
dsgw::policies::Dispatch fast(int max_attempts = 3) {
  dsgw::policies::Dispatch d;
  d.max_attempts = max_attempts;
  d.retry_base_ms = 1;
  d.retry_cap_ms = 2;
  d.max_retry_after_ms = 5'000;
  return d;
}

// A routing table over `fakes` (permissive policy, config order) whose
// breakers open after `breaker_failures` failures in a row.
std::shared_ptr<RoutingTable> table_of(const std::vector<std::shared_ptr<FakeBackend>>& fakes,
                                       dsgw::policies::Dispatch dispatch = fast(), int breaker_failures = 100) {
  auto t = std::make_shared<RoutingTable>();
  std::vector<dsgw::policies::BackendFacts> facts;
  for (const auto& f : fakes) {
    t->backends.push_back(f);
    facts.push_back({f->info().name, f->info().jurisdiction, f->info().models});
    t->stats.push_back(std::make_shared<BackendStats>(CircuitBreaker::Options{breaker_failures, 60s}));
  }
  auto policy = dsgw::policies::permissive_policy(facts);
  policy.dispatch = dispatch;
  t->policy = std::make_shared<const dsgw::policies::Policy>(std::move(policy));
  t->revision = "test";
  return t;
}

// Records what the client would see, and which backend `served` named when
// each event arrived.
class RecordingSink final : public EventSink {
 public:
  explicit RecordingSink(const std::atomic<int>* served = nullptr) : served_(served) {}

  bool emit(Event event) override {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
    served_at_emit_.push_back(served_ ? served_->load() : -1);
    return !cancelled_.load();
  }
  bool cancelled() const override { return cancelled_.load(); }
  void on_cancel(std::function<void()> callback) override {
    std::lock_guard lock(mutex_);
    callback_ = std::move(callback);
  }
  void cancel() {
    cancelled_ = true;
    std::function<void()> callback;
    {
      std::lock_guard lock(mutex_);
      callback = callback_;
    }
    if (callback) callback();
  }
  std::vector<Event> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<int> served_at_emit() const {
    std::lock_guard lock(mutex_);
    return served_at_emit_;
  }

 private:
  const std::atomic<int>* served_;
  mutable std::mutex mutex_;
  std::vector<Event> events_;
  std::vector<int> served_at_emit_;
  std::atomic<bool> cancelled_{false};
  std::function<void()> callback_;
};

Request request() {
  Request r;
  r.id = std::string("req-1");  // not operator=(const char*): g++ 12 -O3 misreports -Wrestrict on it here
  r.model = std::string("m");
  return r;
}

FakeBackend::Generate fails_with(ErrorCode code, std::optional<int> retry_after_seconds = std::nullopt) {
  return [code, retry_after_seconds](const Request&, EventSink& sink) {
    auto error = make_error(code, std::string("fails with ") + dsgw::error_code_name(code));
    error.retry_after_seconds = retry_after_seconds;
    sink.emit(Failure{error});
  };
}

std::vector<std::string> outcomes(const DispatchResult& r) {
  std::vector<std::string> out;
  for (const auto& a : r.attempts) out.push_back(std::to_string(a.backend) + ":" + a.outcome);
  return out;
}

using Strings = std::vector<std::string>;

void check_hello_then_stop(const std::vector<Event>& events, const std::string& backend) {
  REQUIRE(events.size() == 2);
  REQUIRE(std::holds_alternative<Delta>(events[0]));
  CHECK(std::get<Delta>(events[0]).content == "hello from " + backend);
  REQUIRE(std::holds_alternative<Finish>(events[1]));
}

}  // namespace

TEST_CASE("dispatch: a retryable failure before any event fails over; the client sees only the next backend") {
  for (const ErrorCode code : {ErrorCode::kUpstreamError, ErrorCode::kUnavailable, ErrorCode::kTimeout,
                               ErrorCode::kUpstreamRateLimited, ErrorCode::kOverloaded}) {
    CAPTURE(dsgw::error_code_name(code));
    auto a = make_fake("a", {"m"});
    auto b = make_fake("b", {"m"});
    a->set_generate(fails_with(code));
    const auto table = table_of({a, b});
    std::atomic<int> served{0};
    RecordingSink sink(&served);
    const DispatchResult r = dispatch(request(), *table, {0, 1}, sink, served);
    check_hello_then_stop(sink.events(), "b");
    CHECK(sink.served_at_emit() == std::vector<int>{1, 1});  // named before its first event went out
    CHECK(served.load() == 1);
    CHECK(r.served == 1);
    CHECK(r.outcome == "stop");
    CHECK_FALSE(r.error.has_value());
    CHECK(outcomes(r) == Strings{std::string("0:") + dsgw::error_code_name(code), "1:ok"});
    CHECK(a->calls() == 1);
    CHECK(b->calls() == 1);
  }
}

TEST_CASE("dispatch: a backend that ends without any event counts as failed and is failed over") {
  auto a = make_fake("a", {"m"});
  auto b = make_fake("b", {"m"});
  a->set_generate([](const Request&, EventSink&) {});
  const auto table = table_of({a, b});
  std::atomic<int> served{0};
  RecordingSink sink;
  const DispatchResult r = dispatch(request(), *table, {0, 1}, sink, served);
  check_hello_then_stop(sink.events(), "b");
  CHECK(r.served == 1);
}

TEST_CASE("dispatch: no failover after the first event: the partial answer, then a Failure") {
  auto a = make_fake("a", {"m"});
  auto b = make_fake("b", {"m"});
  a->set_generate([](const Request&, EventSink& sink) {
    Delta d;
    d.content = "partial";
    sink.emit(std::move(d));
    sink.emit(Failure{make_error(ErrorCode::kUpstreamError, "connection reset")});
  });
  const auto table = table_of({a, b});
  std::atomic<int> served{0};
  RecordingSink sink;
  const DispatchResult r = dispatch(request(), *table, {0, 1}, sink, served);
  const auto events = sink.events();
  REQUIRE(events.size() == 2);
  REQUIRE(std::holds_alternative<Delta>(events[0]));
  CHECK(std::get<Delta>(events[0]).content == "partial");
  REQUIRE(std::holds_alternative<Failure>(events[1]));
  CHECK(std::get<Failure>(events[1]).error.code == ErrorCode::kUpstreamError);
  CHECK(b->calls() == 0);
  CHECK(r.served == 0);
  CHECK(r.outcome == "error");
  REQUIRE(r.error.has_value());
  CHECK(r.error->code == ErrorCode::kUpstreamError);
  CHECK(outcomes(r) == Strings{"0:upstream_error"});
}

TEST_CASE("dispatch: non-retryable errors go to the client and are not retried") {
  for (const ErrorCode code : {ErrorCode::kInvalidRequest, ErrorCode::kContextLengthExceeded, ErrorCode::kInternal}) {
    CAPTURE(dsgw::error_code_name(code));
    auto a = make_fake("a", {"m"});
    auto b = make_fake("b", {"m"});
    a->set_generate(fails_with(code));
    const auto table = table_of({a, b});
    std::atomic<int> served{0};
    RecordingSink sink;
    const DispatchResult r = dispatch(request(), *table, {0, 1}, sink, served);
    const auto events = sink.events();
    REQUIRE(events.size() == 1);
    REQUIRE(std::holds_alternative<Failure>(events[0]));
    CHECK(std::get<Failure>(events[0]).error.code == code);
    CHECK(a->calls() == 1);
    CHECK(b->calls() == 0);
    CHECK(r.served == 0);
    CHECK(r.attempts.size() == 1);
  }
}

TEST_CASE("dispatch: the last candidate is retried with backoff, up to max_attempts in all") {
  SUBCASE("one candidate that always fails") {
    auto a = make_fake("a", {"m"});
    a->set_generate(fails_with(ErrorCode::kUpstreamError));
    const auto table = table_of({a}, fast(3));
    std::atomic<int> served{0};
    RecordingSink sink;
    const DispatchResult r = dispatch(request(), *table, {0}, sink, served);
    CHECK(a->calls() == 3);
    CHECK(outcomes(r) == Strings{"0:upstream_error", "0:upstream_error", "0:upstream_error"});
    CHECK(r.served == -1);
    CHECK(r.outcome == "error");
    REQUIRE(r.error.has_value());
    CHECK(contains(r.error->message, "all 3 attempts failed"));
    const auto events = sink.events();
    REQUIRE(events.size() == 1);  // one Failure, after the last attempt
    REQUIRE(std::holds_alternative<Failure>(events[0]));
    CHECK(std::get<Failure>(events[0]).error.code == ErrorCode::kUpstreamError);
  }
  SUBCASE("earlier candidates are tried once; the attempts left go to the last") {
    auto a = make_fake("a", {"m"});
    auto b = make_fake("b", {"m"});
    a->set_generate(fails_with(ErrorCode::kTimeout));
    b->set_generate(fails_with(ErrorCode::kUnavailable));
    const auto table = table_of({a, b}, fast(4));
    std::atomic<int> served{0};
    RecordingSink sink;
    const DispatchResult r = dispatch(request(), *table, {0, 1}, sink, served);
    CHECK(a->calls() == 1);
    CHECK(b->calls() == 3);
    CHECK(r.attempts.size() == 4);
  }
  SUBCASE("a backend that timed out is not asked again") {
    auto a = make_fake("a", {"m"});
    a->set_generate(fails_with(ErrorCode::kTimeout));
    const auto table = table_of({a}, fast(4));
    std::atomic<int> served{0};
    RecordingSink sink;
    const DispatchResult r = dispatch(request(), *table, {0}, sink, served);
    CHECK(a->calls() == 1);
    REQUIRE(r.error.has_value());
    CHECK(r.error->code == ErrorCode::kTimeout);
  }
  SUBCASE("a retry that succeeds serves the answer") {
    auto a = make_fake("a", {"m"});
    std::atomic<int> tries{0};
    a->set_generate([&](const Request&, EventSink& sink) {
      if (++tries < 3) {
        sink.emit(Failure{make_error(ErrorCode::kUpstreamError, "502")});
        return;
      }
      Delta d;
      d.content = "hello from a";
      sink.emit(std::move(d));
      sink.emit(Finish{"stop"});
    });
    const auto table = table_of({a}, fast(3));
    std::atomic<int> served{0};
    RecordingSink sink;
    const DispatchResult r = dispatch(request(), *table, {0}, sink, served);
    check_hello_then_stop(sink.events(), "a");
    CHECK(outcomes(r) == Strings{"0:upstream_error", "0:upstream_error", "0:ok"});
    CHECK(r.served == 0);
    CHECK(r.outcome == "stop");
  }
  SUBCASE("max_attempts = 1: no retry") {
    auto a = make_fake("a", {"m"});
    auto b = make_fake("b", {"m"});
    a->set_generate(fails_with(ErrorCode::kUpstreamError));
    const auto table = table_of({a, b}, fast(1));
    std::atomic<int> served{0};
    RecordingSink sink;
    const DispatchResult r = dispatch(request(), *table, {0, 1}, sink, served);
    CHECK(a->calls() == 1);
    CHECK(b->calls() == 0);
    CHECK(r.outcome == "error");
  }
}

TEST_CASE("dispatch: a Retry-After above max_retry_after_ms is not waited for") {
  auto a = make_fake("a", {"m"});
  a->set_generate(fails_with(ErrorCode::kUpstreamRateLimited, 10));  // 10 s > 5 s
  const auto table = table_of({a}, fast(3));
  std::atomic<int> served{0};
  RecordingSink sink;
  const DispatchResult r = dispatch(request(), *table, {0}, sink, served);
  CHECK(a->calls() == 1);
  CHECK(outcomes(r) == Strings{"0:upstream_rate_limited"});
  REQUIRE(r.error.has_value());
  CHECK(r.error->code == ErrorCode::kUpstreamRateLimited);
  const auto events = sink.events();
  REQUIRE(events.size() == 1);
  CHECK(std::holds_alternative<Failure>(events[0]));
}

TEST_CASE("dispatch: a retry waits out a Retry-After within the limit, and cancellation stops it") {
  auto a = make_fake("a", {"m"});
  a->set_generate(fails_with(ErrorCode::kUpstreamRateLimited, 30));
  auto d = fast(3);
  d.max_retry_after_ms = 60'000;
  const auto table = table_of({a}, d);
  std::atomic<int> served{0};
  RecordingSink sink;
  auto running = std::async(std::launch::async, [&] { return dispatch(request(), *table, {0}, sink, served); });
  REQUIRE(eventually([&] { return a->calls() == 1; }));
  // Without the Retry-After the 1-2 ms backoff would have retried twice by now.
  CHECK(running.wait_for(50ms) == std::future_status::timeout);
  CHECK(a->calls() == 1);
  sink.cancel();
  REQUIRE(running.wait_for(5s) == std::future_status::ready);
  const DispatchResult r = running.get();
  CHECK(a->calls() == 1);
  CHECK(r.outcome == "cancelled");
  CHECK(r.served == -1);
  CHECK(sink.events().empty());  // a gone client is not written to
}

TEST_CASE("dispatch: a client gone before dispatch runs nothing") {
  auto a = make_fake("a", {"m"});
  const auto table = table_of({a});
  std::atomic<int> served{0};
  RecordingSink sink;
  sink.cancel();
  const DispatchResult r = dispatch(request(), *table, {0}, sink, served);
  CHECK(a->calls() == 0);
  CHECK(r.outcome == "cancelled");
  CHECK(sink.events().empty());
}

TEST_CASE("dispatch: the circuit breaker opens after N failures and the open backend is skipped") {
  auto a = make_fake("a", {"m"});
  auto b = make_fake("b", {"m"});
  a->set_generate(fails_with(ErrorCode::kUpstreamError));
  const auto table = table_of({a, b}, fast(3), /*breaker_failures=*/2);
  for (int i = 0; i < 2; ++i) {
    std::atomic<int> served{0};
    RecordingSink sink;
    const DispatchResult r = dispatch(request(), *table, {0, 1}, sink, served);
    CHECK(outcomes(r) == Strings{"0:upstream_error", "1:ok"});
  }
  CHECK(table->stats[0]->breaker.state() == CircuitBreaker::State::kOpen);
  CHECK(table->stats[1]->breaker.state() == CircuitBreaker::State::kClosed);

  std::atomic<int> served{0};
  RecordingSink sink;
  DispatchResult r = dispatch(request(), *table, {0, 1}, sink, served);
  CHECK(outcomes(r) == Strings{"0:circuit_open", "1:ok"});
  CHECK(a->calls() == 2);
  check_hello_then_stop(sink.events(), "b");

  // Every candidate open: a clean kUnavailable, nothing called.
  RecordingSink alone;
  r = dispatch(request(), *table, {0}, alone, served);
  CHECK(outcomes(r) == Strings{"0:circuit_open"});
  CHECK(a->calls() == 2);
  REQUIRE(r.error.has_value());
  CHECK(r.error->code == ErrorCode::kUnavailable);
  CHECK(contains(r.error->message, "circuit open"));
  const auto events = alone.events();
  REQUIRE(events.size() == 1);
  CHECK(std::holds_alternative<Failure>(events[0]));
}

TEST_CASE("dispatch: refusals and rate limits do not count against the breaker") {
  auto a = make_fake("a", {"m"});
  a->set_generate(fails_with(ErrorCode::kInvalidRequest));
  auto b = make_fake("b", {"m"});
  b->set_generate(fails_with(ErrorCode::kUpstreamRateLimited));
  const auto table = table_of({a, b}, fast(1), /*breaker_failures=*/2);
  for (int i = 0; i < 3; ++i) {
    std::atomic<int> served{0};
    RecordingSink sink;
    dispatch(request(), *table, {0}, sink, served);
    dispatch(request(), *table, {1}, sink, served);
  }
  CHECK(table->stats[0]->breaker.state() == CircuitBreaker::State::kClosed);
  CHECK(table->stats[1]->breaker.state() == CircuitBreaker::State::kClosed);
  CHECK(a->calls() == 3);
  CHECK(b->calls() == 3);
}

TEST_CASE("dispatch: answered attempts feed the latency tracker; usage and ttft come back") {
  auto a = make_fake("a", {"m"});
  auto b = make_fake("b", {"m"});
  a->set_generate(fails_with(ErrorCode::kUpstreamError));
  b->set_generate([](const Request&, EventSink& sink) {
    Delta d;
    d.content = "x";
    sink.emit(std::move(d));
    Delta e;
    e.content = "y";
    sink.emit(std::move(e));
    Usage u;
    u.prompt_tokens = 7;
    u.completion_tokens = 2;
    sink.emit(u);
    sink.emit(Finish{"length"});
  });
  const auto table = table_of({a, b});
  const dsgw::policies::LatencyPrior prior{1234, 56};
  CHECK(table->stats[1]->latency.estimate(prior).samples == 0);
  std::atomic<int> served{0};
  RecordingSink sink;
  const DispatchResult r = dispatch(request(), *table, {0, 1}, sink, served);
  CHECK(r.outcome == "length");
  CHECK(r.usage.prompt_tokens == 7);
  CHECK(r.usage.completion_tokens == 2);
  CHECK(r.ttft_ms.has_value());
  CHECK(r.busy_seconds >= 0);
  const auto learned = table->stats[1]->latency.estimate(prior);
  CHECK(learned.samples == 1);
  CHECK(learned.ttft_ms != 1234);  // the measurement replaced the prior
  CHECK(table->stats[0]->latency.estimate(prior).samples == 0);  // a failure teaches no latency
}
