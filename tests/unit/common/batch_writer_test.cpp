#include "common/batch_writer.h"

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <numeric>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using dsgw::BatchWriter;

namespace {

// What a writer was handed, batch by batch.
struct Sink {
  std::mutex mutex;
  std::vector<std::vector<int>> batches;
  std::atomic<bool> fail{false};

  BatchWriter<int>::WriteFn fn() {
    return [this](std::vector<int>& batch) {
      std::lock_guard lock(mutex);
      batches.push_back(batch);
      return !fail.load();
    };
  }
  std::vector<int> items() {
    std::lock_guard lock(mutex);
    std::vector<int> all;
    for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
    return all;
  }
  size_t batch_count() {
    std::lock_guard lock(mutex);
    return batches.size();
  }
};

std::vector<int> iota(int n) {
  std::vector<int> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

}  // namespace

TEST_CASE("BatchWriter writes every item, in order, in few batches") {
  Sink sink;
  BatchWriter<int> writer(50ms, 1000, sink.fn());
  for (int i = 0; i < 300; ++i) writer.push(i);
  CHECK(writer.flush());
  CHECK(sink.items() == iota(300));
  // Pushed faster than the gather time: far fewer batches than items.
  CHECK(sink.batch_count() <= 10);
}

TEST_CASE("BatchWriter does not make push wait for the write") {
  Sink sink;
  std::atomic<bool> release{false};
  BatchWriter<int> writer(1ms, 1000, [&](std::vector<int>& batch) {
    while (!release.load()) std::this_thread::sleep_for(1ms);
    return sink.fn()(batch);
  });
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) writer.push(i);
  CHECK(std::chrono::steady_clock::now() - start < 500ms);
  release = true;
  CHECK(writer.flush());
  CHECK(sink.items() == iota(100));
}

TEST_CASE("BatchWriter::flush returns once earlier items are written, without waiting the gather time") {
  Sink sink;
  BatchWriter<int> writer(10s, 1000, sink.fn());
  writer.push(1);
  writer.push(2);
  const auto start = std::chrono::steady_clock::now();
  CHECK(writer.flush());
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  CHECK(sink.items() == std::vector<int>{1, 2});
  CHECK(writer.flush());  // nothing pending: returns at once
}

TEST_CASE("BatchWriter writes a full batch without waiting the gather time") {
  Sink sink;
  BatchWriter<int> writer(10s, 4, sink.fn());
  for (int i = 0; i < 4; ++i) writer.push(i);
  const auto start = std::chrono::steady_clock::now();
  while (sink.items().size() < 4 && std::chrono::steady_clock::now() - start < 5s) std::this_thread::sleep_for(1ms);
  CHECK(sink.items() == iota(4));
}

TEST_CASE("BatchWriter's destruction writes what is still queued") {
  Sink sink;
  {
    BatchWriter<int> writer(10s, 1000, sink.fn());
    for (int i = 0; i < 50; ++i) writer.push(i);
  }
  CHECK(sink.items() == iota(50));
}

TEST_CASE("BatchWriter::flush reports a failed batch once") {
  Sink sink;
  BatchWriter<int> writer(1ms, 1000, sink.fn());
  sink.fail = true;
  writer.push(1);
  CHECK_FALSE(writer.flush());
  sink.fail = false;
  CHECK(writer.flush());  // reported already
  writer.push(2);
  CHECK(writer.flush());
  CHECK(sink.items() == std::vector<int>{1, 2});  // the failed batch was handed over all the same
}

TEST_CASE("BatchWriter takes pushes from many threads") {
  Sink sink;
  BatchWriter<int> writer(2ms, 64, sink.fn());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) writer.push(t * 1000 + i);
    });
  }
  for (auto& th : threads) th.join();
  CHECK(writer.flush());
  auto items = sink.items();
  REQUIRE(items.size() == 2000);
  // Each thread's items stay in its order.
  for (int t = 0; t < 4; ++t) {
    int last = -1;
    for (int v : items) {
      if (v / 1000 != t) continue;
      CHECK(v % 1000 == last + 1);
      last = v % 1000;
    }
  }
}

TEST_CASE("BatchWriter::wait leaves a failure for flush to report") {
  Sink sink;
  BatchWriter<int> writer(1ms, 1000, sink.fn());
  sink.fail = true;
  writer.push(1);
  writer.wait();
  CHECK(sink.items() == std::vector<int>{1});
  sink.fail = false;
  CHECK_FALSE(writer.flush());
  CHECK(writer.flush());
}
