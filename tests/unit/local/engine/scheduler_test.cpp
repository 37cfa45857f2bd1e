// The engine thread's scheduling, seen through LocalBackend (and the
// Scheduler itself for shutdown): a full queue, priorities, cancellation and
// disconnects freeing slots, and what a stopping engine does to its work.
#include "backends/local/engine/scheduler.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "tests/unit/local/engine/engine_test_support.h"

namespace dsgw::local {
namespace {

using namespace std::chrono_literals;
using testing::chat_request;
using testing::Clock;
using testing::CollectingSink;
using testing::demo_options;
using testing::Outcome;
using testing::test_info;

// A generation that runs until cancelled (greedy on the demo model; checked
// below not to hit an end token early).
router::Request long_request(int priority = 5) {
  auto r = chat_request("Tell me about the sea.", 3000);
  r.hints.priority = priority;
  return r;
}

router::Request short_request(int priority = 5, int max_tokens = 4) {
  auto r = chat_request("Count to ten.", max_tokens);
  r.hints.priority = priority;
  return r;
}

// Runs a generation on its own thread.
struct Running {
  std::shared_ptr<CollectingSink> sink;
  std::thread thread;
  std::optional<Clock::time_point> returned_at;

  Running(backends::Backend& b, router::Request r, int accept_deltas = -1)
      : sink(std::make_shared<CollectingSink>(accept_deltas)) {
    thread = std::thread([this, &b, r = std::move(r)] {
      b.generate(r, *sink);
      returned_at = Clock::now();
    });
  }
  ~Running() {
    if (thread.joinable()) {
      sink->cancel();
      thread.join();
    }
  }
  void join() { thread.join(); }
};

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 10s) {
  const auto until = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// A Scheduler of its own, straight on the demo model (fp32, one thread), fed
// Sequences that the shared backend's tokenizer prepares: for the tests that
// need to watch submit() and the queue without a LocalBackend in between.
struct OwnScheduler {
  LocalBackend& helper = testing::shared_backend();
  std::unique_ptr<Scheduler> scheduler;

  OwnScheduler(int slots, int max_queue) {
    LoadOptions lo;
    lo.dtype = DType::kFloat32;
    lo.threads = 1;
    auto model = Transformer::load(testing::demo_model(), lo);
    REQUIRE(model.has_value());
    auto cache = model->make_kv_cache(slots, 512);
    REQUIRE(cache.has_value());
    scheduler =
        std::make_unique<Scheduler>(std::move(model.value()), std::move(cache.value()), max_queue, 64);
  }

  std::shared_ptr<Sequence> make(int max_tokens) {
    auto spec = helper.prepare(chat_request("Tell me about the sea.", max_tokens));
    REQUIRE(spec.has_value());
    return std::make_shared<Sequence>(std::move(spec.value()), *helper.tokenizer(),
                                      testing::vocab_limit(helper));
  }
};

TEST_CASE("the long request really runs long on the demo model (precondition of the tests below)") {
  LocalBackend& b = testing::shared_serial_backend();
  auto r = long_request();
  r.sampling.max_tokens = 60;
  const Outcome o = testing::run(b, r);
  REQUIRE(o.finish.has_value());
  CHECK(*o.finish == "length");
}

TEST_CASE("queue: a full queue refuses with kOverloaded and a retry time") {
  LocalBackend b(test_info(), demo_options(/*max_batch=*/1, /*kv_cache_mb=*/16, /*max_queue=*/1));
  REQUIRE(b.health().usable);
  Running running(b, long_request());
  REQUIRE(running.sink->wait_first_event(10s));
  CHECK(b.load().running == 1);
  CHECK(b.load().queued == 0);

  Running waiting(b, short_request());
  REQUIRE(eventually([&] { return b.load().queued == 1; }));

  const auto t0 = Clock::now();
  const Outcome refused = testing::run(b, short_request());
  CHECK(seconds(Clock::now() - t0) < 0.5);
  REQUIRE(refused.failure.has_value());
  CHECK(refused.failure->code == ErrorCode::kOverloaded);
  REQUIRE(refused.failure->retry_after_seconds.has_value());
  CHECK(*refused.failure->retry_after_seconds >= 1);
  CHECK(refused.terminals == 1);

  // The one that waited runs once the slot frees.
  running.sink->cancel();
  running.join();
  REQUIRE(waiting.sink->wait_terminal(10s));
  waiting.join();
  const Outcome w = waiting.sink->outcome();
  CHECK(w.finish.has_value());
  CHECK_FALSE(w.failure.has_value());
  CHECK(eventually([&] { return b.load().running == 0 && b.load().queued == 0; }, 2s));
}

// Regression test (it used to fail): Scheduler::submit() refuses when waiting_count_ >= max_queue_, and
// every submission counts as waiting until the engine thread admits it, so
// with max_queue = 0 (which the config accepts: 0..100000) every request gets
// kOverloaded, even on an idle engine with free slots. Expected: 0 means "no
// waiting", i.e. a request runs when a slot is free and only the ones that
// would have to wait are refused.
TEST_CASE("queue: max_queue = 0 runs what fits and refuses what would wait") {
  LocalBackend none(test_info(), demo_options(1, 16, 0));
  REQUIRE(none.health().usable);
  Running r(none, long_request());
  REQUIRE(r.sink->wait_first_event(10s));
  CHECK_FALSE(r.sink->outcome().failure.has_value());  // actual: kOverloaded on an idle engine
  CHECK(r.sink->outcome().deltas > 0);
  const Outcome o = testing::run(none, short_request());
  REQUIRE(o.failure.has_value());
  CHECK(o.failure->code == ErrorCode::kOverloaded);
}

// Regression test (it used to fail, same cause as above): a submission counts against max_queue
// until the engine thread's next loop admits it, even when a slot is free.
// With one sequence running (the engine thread busy in its step) and 3 free
// slots, two requests submitted back to back with max_queue = 1: the second
// gets kOverloaded although neither would have to wait.
TEST_CASE("queue: requests that fit in free slots are not refused as queued") {
  OwnScheduler own(/*slots=*/4, /*max_queue=*/1);
  Scheduler& scheduler = *own.scheduler;
  auto running = own.make(400);
  REQUIRE(scheduler.submit(running).is_ok());
  router::Event e;
  REQUIRE(running->events().pop(e, 10s) == router::EventChannel::PopResult::kEvent);
  int refused = 0;
  for (int i = 0; i < 5; ++i) {
    auto a = own.make(2);
    auto b = own.make(2);
    CHECK(scheduler.submit(a).is_ok());
    const bool b_ok = scheduler.submit(b).is_ok();
    if (!b_ok) ++refused;
    for (auto* s : {a.get(), b_ok ? b.get() : nullptr}) {
      while (s && s->events().pop(e, 2s) == router::EventChannel::PopResult::kEvent) {
      }
    }
  }
  CHECK(refused == 0);  // actual: refused on most tries
  running->cancel();
}

TEST_CASE("priority: a priority-0 request is admitted before an earlier priority-9 one") {
  LocalBackend& b = testing::shared_serial_backend();
  Running low(b, long_request(9));
  REQUIRE(low.sink->wait_first_event(10s));

  Running later9(b, short_request(9));
  REQUIRE(eventually([&] { return b.load().queued == 1; }));
  Running urgent0(b, short_request(0));
  REQUIRE(eventually([&] { return b.load().queued == 2; }));

  low.sink->cancel();
  REQUIRE(urgent0.sink->wait_terminal(10s));
  REQUIRE(later9.sink->wait_terminal(10s));
  urgent0.join();
  later9.join();
  const Outcome u = urgent0.sink->outcome();
  const Outcome l = later9.sink->outcome();
  REQUIRE(u.first_event_at);
  REQUIRE(l.first_event_at);
  CHECK(*u.first_event_at < *l.first_event_at);
  // max_batch 1: the priority-9 one starts only after the priority-0 one ended.
  REQUIRE(u.terminal_at);
  CHECK(*u.terminal_at <= *l.first_event_at);
  CHECK(u.finish.has_value());
  CHECK(l.finish.has_value());
}

TEST_CASE("priority: equal priorities are admitted in arrival order") {
  LocalBackend& b = testing::shared_serial_backend();
  Running first(b, long_request(5));
  REQUIRE(first.sink->wait_first_event(10s));
  std::vector<std::unique_ptr<Running>> queued;
  for (int i = 0; i < 3; ++i) {
    queued.push_back(std::make_unique<Running>(b, short_request(5)));
    REQUIRE(eventually([&] { return b.load().queued == i + 1; }));
  }
  first.sink->cancel();
  for (auto& q : queued) {
    REQUIRE(q->sink->wait_terminal(10s));
    q->join();
  }
  for (int i = 0; i + 1 < 3; ++i) {
    CHECK(*queued[i]->sink->outcome().first_event_at < *queued[i + 1]->sink->outcome().first_event_at);
  }
}

TEST_CASE("cancellation frees the slot within a step: a queued request starts promptly") {
  LocalBackend& b = testing::shared_serial_backend();
  Running running(b, long_request());
  REQUIRE(running.sink->wait_first_event(10s));
  Running next(b, short_request());
  REQUIRE(eventually([&] { return b.load().queued == 1; }));
  std::this_thread::sleep_for(50ms);
  CHECK_FALSE(next.sink->outcome().first_event_at.has_value());

  const auto t0 = Clock::now();
  running.sink->cancel();
  REQUIRE(next.sink->wait_first_event(5s));
  const double waited = seconds(*next.sink->outcome().first_event_at - t0);
  CAPTURE(waited);
  CHECK(waited < 1.0);
  running.join();
  REQUIRE(running.returned_at);
  CHECK(seconds(*running.returned_at - t0) < 1.0);
  const Outcome cancelled = running.sink->outcome();
  CHECK_FALSE(cancelled.finish.has_value());  // no Finish for a cancelled stream
  CHECK(cancelled.terminals <= 1);
  if (cancelled.failure) CHECK(cancelled.failure->code == ErrorCode::kCancelled);
  CHECK_FALSE(running.sink->has_cancel_callback());  // generate() cleared it

  REQUIRE(next.sink->wait_terminal(10s));
  next.join();
  CHECK(next.sink->outcome().finish.has_value());
}

TEST_CASE("cancelling a queued request removes it without disturbing the running one") {
  LocalBackend& b = testing::shared_serial_backend();
  Running running(b, long_request());
  REQUIRE(running.sink->wait_first_event(10s));
  Running queued(b, short_request());
  REQUIRE(eventually([&] { return b.load().queued == 1; }));
  const auto t0 = Clock::now();
  queued.sink->cancel();
  queued.join();
  CHECK(seconds(*queued.returned_at - t0) < 1.0);
  CHECK(queued.sink->outcome().deltas == 0);
  CHECK_FALSE(queued.sink->outcome().finish.has_value());
  CHECK(eventually([&] { return b.load().queued == 0; }, 2s));
  const int before = running.sink->outcome().deltas;
  CHECK(eventually([&] { return running.sink->outcome().deltas > before + 2; }, 5s));
  CHECK(running.sink->outcome().terminals == 0);
}

TEST_CASE("a client that stops reading (emit returns false) frees its slot") {
  LocalBackend& b = testing::shared_serial_backend();
  {  // after a few deltas
    Running gone(b, long_request(), /*accept_deltas=*/2);
    gone.join();  // returns by itself once emit() says the consumer is gone
    CHECK(gone.sink->outcome().deltas == 3);
    CHECK(gone.sink->outcome().terminals == 0);
  }
  {  // while another request waits for its slot
    Running gone(b, long_request());
    REQUIRE(gone.sink->wait_first_event(10s));
    Running next(b, short_request());
    REQUIRE(eventually([&] { return b.load().queued == 1; }));
    const auto t0 = Clock::now();
    gone.sink->refuse();
    gone.join();
    CHECK(seconds(*gone.returned_at - t0) < 1.0);
    REQUIRE(next.sink->wait_first_event(5s));
    CHECK(seconds(*next.sink->outcome().first_event_at - t0) < 1.0);
    REQUIRE(next.sink->wait_terminal(10s));
    next.join();
    CHECK(next.sink->outcome().finish.has_value());
  }
  CHECK(eventually([&] { return b.load().running == 0 && b.load().queued == 0; }, 2s));
}

TEST_CASE("a sink cancelled before generate() starts costs nothing") {
  LocalBackend& b = testing::shared_serial_backend();
  CollectingSink sink;
  sink.cancel();
  const auto t0 = Clock::now();
  b.generate(long_request(), sink);
  CHECK(seconds(Clock::now() - t0) < 1.0);
  CHECK_FALSE(sink.outcome().finish.has_value());
  CHECK(eventually([&] { return b.load().running == 0 && b.load().queued == 0; }, 2s));
  const auto t1 = Clock::now();
  const Outcome o = testing::run(b, short_request());
  CHECK(o.finish.has_value());
  CHECK(seconds(Clock::now() - t1) < 2.0);
}

TEST_CASE("load(): the generation rate shows while the engine works") {
  LocalBackend b(test_info(), demo_options(/*max_batch=*/1));
  CHECK(b.load().tokens_per_second == 0);
  Running running(b, long_request());
  REQUIRE(running.sink->wait_first_event(10s));
  CHECK(eventually([&] { return b.load().tokens_per_second > 0; }, 3s));
  running.sink->cancel();
  running.join();
}

// Regression test (it used to fail): Scheduler::record_tokens() updates tokens_per_second only when tokens
// are produced, so an idle engine keeps reporting the rate of its last busy
// second forever (LoadReport says "recent generation rate"). Expected: it
// falls to 0 once nothing has run for a while.
TEST_CASE("load(): the generation rate falls to 0 when the engine idles") {
  LocalBackend& b = testing::shared_serial_backend();
  Running running(b, long_request());
  REQUIRE(running.sink->wait_first_event(10s));
  REQUIRE(eventually([&] { return b.load().tokens_per_second > 0; }, 3s));
  running.sink->cancel();
  running.join();
  CHECK(eventually([&] { return b.load().tokens_per_second == 0; }, 4s));
}

TEST_CASE("a stopping scheduler fails what is queued and running with kUnavailable") {
  OwnScheduler own(/*slots=*/1, /*max_queue=*/4);
  REQUIRE(own.helper.health().usable);
  auto running = own.make(400);
  auto waiting = own.make(4);
  std::unique_ptr<Scheduler>& scheduler = own.scheduler;
  CHECK(scheduler->slot_tokens() == 512);
  REQUIRE(scheduler->submit(running).is_ok());
  router::Event e;
  REQUIRE(running->events().pop(e, 10s) == router::EventChannel::PopResult::kEvent);
  REQUIRE(scheduler->submit(waiting).is_ok());
  REQUIRE(eventually([&] { return scheduler->stats().running == 1 && scheduler->stats().waiting == 1; }));
  scheduler.reset();

  for (auto* s : {running.get(), waiting.get()}) {
    std::optional<Error> failure;
    int finishes = 0;
    while (true) {
      const auto r = s->events().pop(e, 2s);
      REQUIRE(r != router::EventChannel::PopResult::kTimeout);
      if (r == router::EventChannel::PopResult::kClosed) break;
      if (auto* f = std::get_if<router::Failure>(&e)) failure = f->error;
      if (std::holds_alternative<router::Finish>(e)) ++finishes;
    }
    REQUIRE(failure.has_value());
    CHECK(failure->code == ErrorCode::kUnavailable);
    CHECK(finishes == 0);
  }
}

}  // namespace
}  // namespace dsgw::local
