#include "backends/openai/sse_parser.h"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

using dsgw::backends::openai::SseEvent;
using dsgw::backends::openai::SseParser;

namespace {

struct Seen {
  std::string event;
  std::string data;
};

// Events as one string, so that a mismatch prints readably.
std::string render(const std::vector<Seen>& events) {
  std::string out;
  for (const auto& e : events) out += "<" + e.event + ">" + e.data + "|";
  return out;
}

// Feeds `chunks` in order; returns the events and whether every feed said go on.
struct FeedResult {
  std::string events;  // render()ed
  bool ok = true;
};

FeedResult feed_chunks(const std::vector<std::string>& chunks) {
  SseParser parser;
  FeedResult r;
  std::vector<Seen> events;
  for (const auto& c : chunks) {
    r.ok = parser.feed(c, [&](const SseEvent& e) {
      events.push_back({e.event, e.data});
      return true;
    }) && r.ok;
  }
  r.events = render(events);
  return r;
}

std::string parse_whole(const std::string& stream) { return feed_chunks({stream}).events; }

// A stream that exercises every line ending, comments, multi-line data and
// event names. Its events are kStreamEvents.
const std::string kStream =
    ": keep-alive comment\r\n"
    "event: ignored-without-data\r\n"
    "\r\n"
    "data: {\"a\":1}\r\n"
    "\r\n"
    "data: line1\n"
    "data: line2\n"
    "data:\n"
    "\n"
    "event: error\r"
    "data: oops\r"
    "id: 7\r"
    "retry: 100\r"
    "\r"
    "data:nospace\r\n"
    ":comment between fields\r\n"
    "data:  two spaces\r\n"
    "\r\n"
    "data\n"
    "\n"
    "data: [DONE]\n"
    "\n";

const std::string kStreamEvents = render({
    {"", "{\"a\":1}"},
    {"", "line1\nline2\n"},
    {"error", "oops"},
    {"", "nospace\n two spaces"},
    {"", ""},
    {"", "[DONE]"},
});

}  // namespace

TEST_CASE("SseParser parses a whole stream in one chunk") {
  CHECK(parse_whole(kStream) == kStreamEvents);
}

TEST_CASE("SseParser gives the same events when fed one byte at a time") {
  std::vector<std::string> bytes;
  for (char c : kStream) bytes.emplace_back(1, c);
  const auto r = feed_chunks(bytes);
  CHECK(r.ok);
  CHECK(r.events == kStreamEvents);
}

TEST_CASE("SseParser gives the same events for a cut at every byte boundary") {
  for (size_t cut = 0; cut <= kStream.size(); ++cut) {
    CAPTURE(cut);
    const auto r = feed_chunks({kStream.substr(0, cut), kStream.substr(cut)});
    CHECK(r.events == kStreamEvents);
  }
}

TEST_CASE("SseParser gives the same events for random chunkings") {
  std::mt19937 rng(4242);
  for (int round = 0; round < 500; ++round) {
    std::vector<std::string> chunks;
    std::uniform_int_distribution<size_t> len(1, 12);
    for (size_t at = 0; at < kStream.size();) {
      const size_t n = std::min(len(rng), kStream.size() - at);
      chunks.push_back(kStream.substr(at, n));
      at += n;
    }
    CAPTURE(round);
    CHECK(feed_chunks(chunks).events == kStreamEvents);
  }
}

TEST_CASE("SseParser handles a \\r\\n split across chunks as one line ending") {
  const auto r = feed_chunks({"data: a\r", "\ndata: b\r", "\n\r", "\n"});
  CHECK(r.events == render({{"", "a\nb"}}));

  // A lone \r at the end of a chunk followed by a \r starting the next one is
  // two line endings: the blank line dispatches.
  const auto r2 = feed_chunks({"data: a\r", "\rdata: b\n\n"});
  CHECK(r2.events == render({{"", "a"}, {"", "b"}}));
}

// Regression test; it used to fail: SseParser::feed clears its "previous chunk ended with \r" state on an
// empty chunk, so the \n of a \r\n split by an empty read becomes a blank line
// and dispatches the event early: expected one event "a\nb", got "a" and "b".
TEST_CASE("SseParser ignores empty chunks between the \\r and \\n of a line ending") {
  const auto r = feed_chunks({"data: a\r", "", "\ndata: b\n\n"});
  CHECK(r.events == render({{"", "a\nb"}}));
}

TEST_CASE("SseParser keeps an unterminated event until its blank line arrives") {
  SseParser parser;
  std::vector<Seen> events;
  auto h = [&](const SseEvent& e) {
    events.push_back({e.event, e.data});
    return true;
  };
  CHECK(parser.feed("data: par", h));
  CHECK(parser.feed("tial\n", h));
  CHECK(events.empty());
  CHECK(parser.feed("\n", h));
  CHECK(render(events) == render({{"", "partial"}}));
}

TEST_CASE("SseParser resets the event name after each event") {
  const auto events = parse_whole("event: first\ndata: 1\n\ndata: 2\n\n");
  CHECK(events == render({{"first", "1"}, {"", "2"}}));
}

TEST_CASE("SseParser stops when the handler returns false") {
  SseParser parser;
  int calls = 0;
  const bool go_on = parser.feed("data: 1\n\ndata: 2\n\ndata: 3\n\n", [&](const SseEvent&) {
    ++calls;
    return false;
  });
  CHECK_FALSE(go_on);
  CHECK(calls == 1);

  SseParser second;
  std::vector<std::string> datas;
  CHECK_FALSE(second.feed("data: 1\n\ndata: 2\n\ndata: 3\n\n", [&](const SseEvent& e) {
    datas.push_back(e.data);
    return e.data != "2";
  }));
  CHECK(datas == std::vector<std::string>{"1", "2"});
}

TEST_CASE("SseParser rejects an event that grows past the limit on one line") {
  SseParser parser;
  const std::string mib(1 << 20, 'x');
  int calls = 0;
  auto h = [&](const SseEvent&) {
    ++calls;
    return true;
  };
  REQUIRE(parser.feed("data: ", h));
  size_t fed = 6;
  bool rejected = false;
  for (int i = 0; i < 20 && !rejected; ++i) {
    rejected = !parser.feed(mib, h);
    fed += mib.size();
  }
  CHECK(rejected);
  CHECK(fed > SseParser::kMaxEventBytes);
  CHECK(fed <= SseParser::kMaxEventBytes + mib.size() + 6);
  CHECK(calls == 0);
}

TEST_CASE("SseParser rejects an event whose data lines add up past the limit") {
  SseParser parser;
  const std::string line = "data: " + std::string(1 << 20, 'y') + "\n";
  auto h = [](const SseEvent&) { return true; };
  bool rejected = false;
  int fed = 0;
  for (; fed < 20 && !rejected; ++fed) rejected = !parser.feed(line, h);
  CHECK(rejected);
  CHECK(fed >= 16);
}

TEST_CASE("SseParser accepts many small events far past the per-event limit in total") {
  SseParser parser;
  const std::string event = "data: " + std::string(1000, 'z') + "\n\n";
  std::string chunk;
  for (int i = 0; i < 1000; ++i) chunk += event;  // ~1 MB per feed
  size_t count = 0;
  bool ok = true;
  for (int i = 0; i < 20 && ok; ++i) {
    ok = parser.feed(chunk, [&](const SseEvent& e) {
      count += e.data.size() == 1000 ? 1 : 0;
      return true;
    });
  }
  CHECK(ok);
  CHECK(count == 20000u);
}
