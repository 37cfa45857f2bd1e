#include "router/event_channel.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "tests/unit/test_util.h"

using namespace std::chrono_literals;
using dsgw::router::Delta;
using dsgw::router::Event;
using dsgw::router::EventChannel;
using dsgw::router::Finish;
using dsgw::test::eventually;
using Pop = EventChannel::PopResult;

namespace {

Event text(const std::string& s) {
  Delta d;
  d.content = s;
  return d;
}

std::string content_of(const Event& e) {
  const auto* d = std::get_if<Delta>(&e);
  return d ? d->content : "<not a delta>";
}

}  // namespace

TEST_CASE("EventChannel delivers events in order, then kClosed after close") {
  EventChannel ch;
  CHECK(ch.emit(text("a")));
  CHECK(ch.emit(text("b")));
  CHECK(ch.emit(Finish{"stop"}));
  ch.close();

  Event e;
  REQUIRE(ch.pop(e, 0ms) == Pop::kEvent);
  CHECK(content_of(e) == "a");
  REQUIRE(ch.pop(e, 0ms) == Pop::kEvent);
  CHECK(content_of(e) == "b");
  REQUIRE(ch.pop(e, 0ms) == Pop::kEvent);
  REQUIRE(std::holds_alternative<Finish>(e));
  CHECK(std::get<Finish>(e).reason == "stop");
  CHECK(ch.pop(e, 0ms) == Pop::kClosed);
  CHECK(ch.pop(e, 10ms) == Pop::kClosed);
}

TEST_CASE("EventChannel::pop times out on an empty open channel") {
  EventChannel ch;
  Event e;
  const auto start = std::chrono::steady_clock::now();
  CHECK(ch.pop(e, 30ms) == Pop::kTimeout);
  CHECK(std::chrono::steady_clock::now() - start >= 30ms);
}

TEST_CASE("EventChannel::pop wakes for an event emitted by another thread") {
  EventChannel ch;
  std::jthread producer([&] {
    std::this_thread::sleep_for(20ms);
    ch.emit(text("late"));
    ch.close();
  });
  Event e;
  REQUIRE(ch.pop(e, 5s) == Pop::kEvent);
  CHECK(content_of(e) == "late");
  CHECK(ch.pop(e, 5s) == Pop::kClosed);
}

TEST_CASE("EventChannel refuses events after close") {
  EventChannel ch;
  ch.close();
  CHECK_FALSE(ch.emit(text("x")));
  Event e;
  CHECK(ch.pop(e, 0ms) == Pop::kClosed);
}

TEST_CASE("a full EventChannel blocks the producer until the consumer pops") {
  EventChannel ch(2);
  REQUIRE(ch.emit(text("1")));
  REQUIRE(ch.emit(text("2")));
  std::atomic<bool> third_done{false};
  std::atomic<bool> third_result{false};
  std::jthread producer([&] {
    third_result = ch.emit(text("3"));
    third_done = true;
  });
  std::this_thread::sleep_for(50ms);
  CHECK_FALSE(third_done.load());

  Event e;
  REQUIRE(ch.pop(e, 1s) == Pop::kEvent);
  CHECK(content_of(e) == "1");
  REQUIRE(eventually([&] { return third_done.load(); }));
  CHECK(third_result.load());
  REQUIRE(ch.pop(e, 1s) == Pop::kEvent);
  CHECK(content_of(e) == "2");
  REQUIRE(ch.pop(e, 1s) == Pop::kEvent);
  CHECK(content_of(e) == "3");
}

TEST_CASE("EventChannel::cancel wakes a blocked producer and runs on_cancel exactly once") {
  EventChannel ch(1);
  std::atomic<int> callbacks{0};
  ch.on_cancel([&] { ++callbacks; });
  REQUIRE(ch.emit(text("fills the channel")));
  std::atomic<bool> done{false};
  std::atomic<bool> result{true};
  std::jthread producer([&] {
    result = ch.emit(text("blocks"));
    done = true;
  });
  std::this_thread::sleep_for(30ms);
  CHECK_FALSE(done.load());
  CHECK_FALSE(ch.cancelled());

  ch.cancel();
  REQUIRE(eventually([&] { return done.load(); }));
  CHECK_FALSE(result.load());
  CHECK(ch.cancelled());
  CHECK(callbacks.load() == 1);

  ch.cancel();
  CHECK(callbacks.load() == 1);
  CHECK_FALSE(ch.emit(text("after cancel")));
}

TEST_CASE("EventChannel::on_cancel after cancel runs the callback at once") {
  EventChannel ch;
  ch.cancel();
  int callbacks = 0;
  ch.on_cancel([&] { ++callbacks; });
  CHECK(callbacks == 1);
  ch.on_cancel({});  // clearing is harmless
  CHECK(callbacks == 1);
}

TEST_CASE("EventChannel::on_cancel replaces the earlier callback") {
  EventChannel ch;
  int first = 0;
  int second = 0;
  ch.on_cancel([&] { ++first; });
  ch.on_cancel([&] { ++second; });
  ch.cancel();
  CHECK(first == 0);
  CHECK(second == 1);

  EventChannel cleared;
  int never = 0;
  cleared.on_cancel([&] { ++never; });
  cleared.on_cancel({});
  cleared.cancel();
  CHECK(never == 0);
}

TEST_CASE("EventChannel does not run the cancel callback of a producer that already closed") {
  EventChannel ch;
  int callbacks = 0;
  ch.on_cancel([&] { ++callbacks; });
  ch.close();
  ch.cancel();
  CHECK(callbacks == 0);
  CHECK(ch.cancelled());
}

TEST_CASE("EventChannel keeps buffered events readable after cancel") {
  EventChannel ch;
  REQUIRE(ch.emit(text("kept")));
  ch.cancel();
  Event e;
  REQUIRE(ch.pop(e, 0ms) == Pop::kEvent);
  CHECK(content_of(e) == "kept");
}

TEST_CASE("EventChannel passes many events between threads without loss or reordering") {
  EventChannel ch(4);
  constexpr int kCount = 2000;
  std::jthread producer([&] {
    for (int i = 0; i < kCount; ++i) {
      if (!ch.emit(text(std::to_string(i)))) return;
    }
    ch.close();
  });
  int expected = 0;
  Event e;
  for (;;) {
    const Pop r = ch.pop(e, 5s);
    if (r != Pop::kEvent) {
      CHECK(r == Pop::kClosed);
      break;
    }
    if (content_of(e) != std::to_string(expected)) {
      FAIL("out of order: got " << content_of(e) << ", expected " << expected);
    }
    ++expected;
  }
  CHECK(expected == kCount);
}
