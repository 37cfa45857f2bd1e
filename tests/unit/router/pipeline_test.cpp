#include "router/pipeline.h"

#include <doctest/doctest.h>

#include <future>
#include <stdexcept>

#include "common/sha256.h"
#include "policies/policy.h"
#include "tests/unit/router/fake_backend.h"
#include "tests/unit/test_util.h"

using namespace std::chrono_literals;
using dsgw::ErrorCode;
using dsgw::router::Authenticator;
using dsgw::router::BackendStats;
using dsgw::router::CircuitBreaker;
using dsgw::router::Delta;
using dsgw::router::Event;
using dsgw::router::EventChannel;
using dsgw::router::EventSink;
using dsgw::router::Failure;
using dsgw::router::Finish;
using dsgw::router::Pipeline;
using dsgw::router::Request;
using dsgw::router::RoutingTable;
using dsgw::test::contains;
using dsgw::test::eventually;
using dsgw::test::FakeBackend;
using dsgw::test::make_fake;

namespace {

// A table over `backends` with the permissive policy (one class that may go
// anywhere, no rules, config order: the first usable backend serving the
// model wins) and fresh stats.
// A table under the permissive policy; `max_attempts` > 1 lets it fail over.
std::shared_ptr<const RoutingTable> table_of(std::vector<std::shared_ptr<dsgw::backends::Backend>> backends,
                                             Authenticator auth = Authenticator(), int max_attempts = 1) {
  auto t = std::make_shared<RoutingTable>();
  std::vector<dsgw::policies::BackendFacts> facts;
  for (const auto& b : backends) {
    facts.push_back({b->info().name, b->info().jurisdiction, b->info().models});
    t->stats.push_back(std::make_shared<BackendStats>(CircuitBreaker::Options{}));
  }
  auto policy = dsgw::policies::permissive_policy(facts);
  policy.dispatch.max_attempts = max_attempts;
  t->policy = std::make_shared<const dsgw::policies::Policy>(std::move(policy));
  t->backends = std::move(backends);
  t->authenticator = std::move(auth);
  t->revision = "test";
  return t;
}

Authenticator keys() { return Authenticator({{dsgw::sha256_hex("sk-good"), "team-a"}}); }

Request request_for(const std::string& model, const std::string& credential = {}) {
  Request r;
  r.id = "req-1";
  r.model = model;
  r.credential = credential;
  return r;
}

// Every event of the channel until it closes (fails the test on a 5 s stall).
std::vector<Event> drain(EventChannel& ch) {
  std::vector<Event> out;
  Event e;
  for (;;) {
    const auto r = ch.pop(e, 5s);
    if (r == EventChannel::PopResult::kClosed) return out;
    REQUIRE(r == EventChannel::PopResult::kEvent);
    out.push_back(std::move(e));
  }
}

// Runs `placement` on this thread into a channel; returns its events.
std::vector<Event> run_here(Pipeline& pipeline, dsgw::router::Placement placement) {
  EventChannel sink(1024);
  pipeline.run(std::move(placement), sink).record();
  sink.close();
  return drain(sink);
}

// A generate() that blocks until release() (at most 10 s), then finishes.
class Gate {
 public:
  FakeBackend::Generate generate() {
    return [this](const Request&, EventSink& sink) {
      entered_.set_value();
      released_.wait_for(10s);
      sink.emit(Finish{"stop"});
    };
  }
  bool wait_entered() { return entered_future_.wait_for(5s) == std::future_status::ready; }
  void release() { release_.set_value(); }

 private:
  std::promise<void> entered_;
  std::future<void> entered_future_ = entered_.get_future();
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
};

void check_hello_then_stop(const std::vector<Event>& events, const std::string& backend) {
  REQUIRE(events.size() == 2);
  REQUIRE(std::holds_alternative<Delta>(events[0]));
  CHECK(std::get<Delta>(events[0]).content == "hello from " + backend);
  REQUIRE(std::holds_alternative<Finish>(events[1]));
  CHECK(std::get<Finish>(events[1]).reason == "stop");
}

}  // namespace

TEST_CASE("Pipeline::place routes by model; start streams the backend's events to the channel") {
  auto backend = make_fake("edge", {"m1"});
  Pipeline pipeline(4);
  const auto table = table_of({backend});
  auto p = pipeline.place(request_for("m1"), table);
  REQUIRE(p.has_value());
  CHECK(p->served_by().name() == "edge");
  CHECK(p->rule() == "default");  // the permissive policy has no rules
  CHECK(pipeline.in_flight() == 1);  // the placement holds its place

  auto channel = pipeline.start(std::move(p.value()));
  REQUIRE(channel != nullptr);
  check_hello_then_stop(drain(*channel), "edge");
  CHECK(backend->calls() == 1);
  CHECK(eventually([&] { return pipeline.in_flight() == 0; }));
}

TEST_CASE("Pipeline::run generates on the calling thread into the caller's sink") {
  auto backend = make_fake("edge", {"m1"});
  std::thread::id ran_on;
  backend->set_generate([&](const Request&, EventSink& sink) {
    ran_on = std::this_thread::get_id();
    Delta d;
    d.content = "hello from edge";
    sink.emit(std::move(d));
    sink.emit(Finish{"stop"});
  });
  Pipeline pipeline(2);
  const auto table = table_of({backend});
  auto p = pipeline.place(request_for("m1"), table);
  REQUIRE(p.has_value());
  const auto events = run_here(pipeline, std::move(p.value()));
  CHECK(ran_on == std::this_thread::get_id());
  check_hello_then_stop(events, "edge");
  CHECK(pipeline.in_flight() == 0);  // released when run returns
}

TEST_CASE("a Placement dropped without running gives its place back") {
  Pipeline pipeline(1);
  const auto table = table_of({make_fake("edge", {"m1"})});
  {
    auto p = pipeline.place(request_for("m1"), table);
    REQUIRE(p.has_value());
    CHECK(pipeline.in_flight() == 1);
  }
  CHECK(pipeline.in_flight() == 0);
  CHECK(pipeline.place(request_for("m1"), table).has_value());
}

TEST_CASE("Pipeline::place sets the tenant and drops the credential") {
  auto backend = make_fake("edge", {"m1"});
  Pipeline pipeline(2);
  const auto table = table_of({backend}, keys());
  auto p = pipeline.place(request_for("m1", "sk-good"), table);
  REQUIRE(p.has_value());
  CHECK(p->request().tenant == "team-a");
  CHECK(p->request().credential.empty());
  run_here(pipeline, std::move(p.value()));
  const Request seen = backend->last_request();
  CHECK(seen.tenant == "team-a");
  CHECK(seen.credential.empty());
  CHECK(seen.id == "req-1");

  const auto open = table_of({backend});
  auto anon = pipeline.place(request_for("m1", "anything"), open);
  REQUIRE(anon.has_value());
  CHECK(anon->request().tenant == "anonymous");
}

TEST_CASE("Pipeline::place refuses bad keys before routing") {
  auto backend = make_fake("edge", {"m1"});
  Pipeline pipeline(2);
  const auto table = table_of({backend}, keys());
  for (const char* credential : {"", "sk-bad"}) {
    auto p = pipeline.place(request_for("m1", credential), table);
    REQUIRE_FALSE(p.has_value());
    CHECK(p.error().code == ErrorCode::kUnauthenticated);
  }
  // Authentication comes first: an unknown model with a bad key is still 401.
  auto p = pipeline.place(request_for("nope", "sk-bad"), table);
  REQUIRE_FALSE(p.has_value());
  CHECK(p.error().code == ErrorCode::kUnauthenticated);
  CHECK(backend->calls() == 0);
  CHECK(pipeline.in_flight() == 0);
}

TEST_CASE("Pipeline::place answers kNotFound for a model no backend serves") {
  Pipeline pipeline(2);
  const auto table = table_of({make_fake("edge", {"m1"})});
  auto p = pipeline.place(request_for("unknown-model"), table);
  REQUIRE_FALSE(p.has_value());
  CHECK(p.error().code == ErrorCode::kNotFound);
  CHECK(p.error().param == "model");
  CHECK(contains(p.error().message, "unknown-model"));
  CHECK(pipeline.in_flight() == 0);

  auto empty = pipeline.place(request_for("m1"), table_of({}));
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().code == ErrorCode::kNotFound);
}

TEST_CASE("Pipeline::place answers kUnavailable naming the reasons when no backend for the model is usable") {
  Pipeline pipeline(2);
  auto a = make_fake("web", {"m1"}, false, "DEEPSEEK_API_KEY is not set");
  auto b = make_fake("edge", {"m1"}, false, "connection refused");
  auto p = pipeline.place(request_for("m1"), table_of({a, b}));
  REQUIRE_FALSE(p.has_value());
  CHECK(p.error().code == ErrorCode::kUnavailable);
  CHECK(p.error().subcode.empty());  // backend_unavailable: broken, not forbidden
  CHECK(contains(p.error().message, "web"));
  CHECK(contains(p.error().message, "DEEPSEEK_API_KEY is not set"));
  CHECK(contains(p.error().message, "edge"));
  CHECK(contains(p.error().message, "connection refused"));
  CHECK(pipeline.in_flight() == 0);
}

TEST_CASE("Pipeline::place picks the first usable backend serving the model, in table order") {
  Pipeline pipeline(4);
  auto down = make_fake("down", {"m1"}, false, "maintenance");
  auto other = make_fake("other", {"m2"});
  auto first = make_fake("first", {"m0", "m1"});
  auto second = make_fake("second", {"m1"});
  const auto table = table_of({down, other, first, second});
  auto p = pipeline.place(request_for("m1"), table);
  REQUIRE(p.has_value());
  CHECK(p->served_by().name() == "first");
  drain(*pipeline.start(std::move(p.value())));
  CHECK(first->calls() == 1);
  CHECK(second->calls() + down->calls() + other->calls() == 0);
}

TEST_CASE("Pipeline fails over before the first event; served_by then names the backend that answered") {
  auto broken = make_fake("broken", {"m1"});
  broken->set_generate([](const Request&, EventSink& sink) {
    sink.emit(Failure{dsgw::make_error(ErrorCode::kUpstreamError, "502 from upstream")});
  });
  auto good = make_fake("good", {"m1"});
  Pipeline pipeline(2);
  auto p = pipeline.place(request_for("m1"), table_of({broken, good}, Authenticator(), 2));
  REQUIRE(p.has_value());
  CHECK(p->served_by().name() == "broken");  // the first candidate, until it fails
  const auto served_by = p->served_by();     // a copy shares the index
  check_hello_then_stop(run_here(pipeline, std::move(p.value())), "good");
  CHECK(served_by.name() == "good");
  CHECK(broken->calls() == 1);
  CHECK(good->calls() == 1);
}

TEST_CASE("Pipeline refuses with kOverloaded and Retry-After while at capacity, and admits again after") {
  auto backend = make_fake("slow", {"m1"});
  Gate gate;
  backend->set_generate(gate.generate());
  Pipeline pipeline(1);
  const auto table = table_of({backend});

  auto first = pipeline.place(request_for("m1"), table);
  REQUIRE(first.has_value());
  auto channel = pipeline.start(std::move(first.value()));
  REQUIRE(gate.wait_entered());
  CHECK(pipeline.in_flight() == 1);

  auto refused = pipeline.place(request_for("m1"), table);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == ErrorCode::kOverloaded);
  REQUIRE(refused.error().retry_after_seconds.has_value());
  CHECK(*refused.error().retry_after_seconds >= 1);

  gate.release();
  const auto events = drain(*channel);
  REQUIRE(events.size() == 1);
  CHECK(std::holds_alternative<Finish>(events[0]));
  REQUIRE(eventually([&] { return pipeline.in_flight() == 0; }));

  auto again = pipeline.place(request_for("m1"), table);
  CHECK(again.has_value());
}

TEST_CASE("Pipeline turns a backend exception into a Failure event") {
  auto backend = make_fake("buggy", {"m1"});
  backend->set_generate([](const Request&, EventSink& sink) {
    Delta d;
    d.content = "partial";
    sink.emit(std::move(d));
    throw std::runtime_error("boom");
  });
  Pipeline pipeline(2);
  const auto table = table_of({backend});
  auto check_events = [](const std::vector<Event>& events) {
    REQUIRE(events.size() == 2);
    CHECK(std::holds_alternative<Delta>(events[0]));
    REQUIRE(std::holds_alternative<Failure>(events[1]));
    CHECK(std::get<Failure>(events[1]).error.code == ErrorCode::kInternal);
    CHECK_FALSE(contains(std::get<Failure>(events[1]).error.message, "boom"));
  };

  auto started = pipeline.place(request_for("m1"), table);
  REQUIRE(started.has_value());
  check_events(drain(*pipeline.start(std::move(started.value()))));

  auto ran = pipeline.place(request_for("m1"), table);
  REQUIRE(ran.has_value());
  check_events(run_here(pipeline, std::move(ran.value())));
  CHECK(eventually([&] { return pipeline.in_flight() == 0; }));
}

TEST_CASE("Pipeline lets a cancelled consumer stop a backend blocked on a full channel") {
  auto backend = make_fake("chatty", {"m1"});
  std::atomic<bool> stopped{false};
  backend->set_generate([&](const Request&, EventSink& sink) {
    Delta d;
    d.content = "x";
    while (sink.emit(d)) {
    }
    stopped = true;
  });
  Pipeline pipeline(1);
  const auto table = table_of({backend});
  auto p = pipeline.place(request_for("m1"), table);
  REQUIRE(p.has_value());
  auto channel = pipeline.start(std::move(p.value()));
  std::this_thread::sleep_for(20ms);  // let it fill the channel and block
  CHECK_FALSE(stopped.load());
  channel->cancel();
  CHECK(eventually([&] { return stopped.load(); }));
  CHECK(eventually([&] { return pipeline.in_flight() == 0; }));
}
