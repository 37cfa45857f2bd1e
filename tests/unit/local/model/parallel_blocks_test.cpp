// The engine's work sharing: WorkerTeam and the two parallel_blocks.
// (libtorch headers come before doctest's: they define glog's CHECK.)
#include "backends/local/model/parallel_blocks.h"

#include <ATen/Parallel.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "backends/local/model/worker_team.h"

namespace dsgw::local {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

// Runs a job of `blocks` blocks that each sleep `each`, and returns the
// threads that ran them.
std::set<std::thread::id> threads_of(WorkerTeam& team, std::int64_t blocks, milliseconds each) {
  std::mutex mutex;
  std::set<std::thread::id> ids;
  team.run(blocks, [&](std::int64_t) {
    std::this_thread::sleep_for(each);
    std::lock_guard lock(mutex);
    ids.insert(std::this_thread::get_id());
  });
  return ids;
}

// Sets libtorch's intra-op threads for one test.
struct IntraOpThreads {
  explicit IntraOpThreads(int n) : saved(at::get_num_threads()) { at::set_num_threads(n); }
  ~IntraOpThreads() { at::set_num_threads(saved); }
  int saved;
};

TEST_CASE("a worker team runs every block of every job exactly once") {
  WorkerTeam team(2, microseconds(200));
  CHECK(team.size() == 3);
  std::mt19937 rng(7);
  std::vector<std::atomic<int>> runs(64);
  for (int job = 0; job < 3000; ++job) {
    const std::int64_t blocks = static_cast<std::int64_t>(rng() % 65);
    for (auto& r : runs) r.store(0);
    team.run(blocks, [&](std::int64_t b) { runs[static_cast<std::size_t>(b)].fetch_add(1); });
    for (std::int64_t b = 0; b < 64; ++b) {
      const int expected = b < blocks ? 1 : 0;
      if (runs[static_cast<std::size_t>(b)].load() != expected) {
        FAIL("job " << job << " of " << blocks << " blocks ran block " << b << " "
                    << runs[static_cast<std::size_t>(b)].load() << " times");
      }
    }
  }
}

TEST_CASE("a worker team shares a job among its threads, also after its workers fell asleep") {
  WorkerTeam team(1, microseconds(100));
  // Blocks long enough that the caller cannot take them all before the worker comes.
  CHECK(threads_of(team, 16, milliseconds(2)).size() == 2);
  std::this_thread::sleep_for(milliseconds(20));  // well past the spin: the worker sleeps
  CHECK(threads_of(team, 16, milliseconds(2)).size() == 2);
}

TEST_CASE("a job's threads know they are in one, and only while they are") {
  WorkerTeam team(1, microseconds(100));
  CHECK_FALSE(WorkerTeam::in_job());
  std::atomic<int> outside{0};
  team.run(8, [&](std::int64_t) {
    if (!WorkerTeam::in_job()) outside.fetch_add(1);
  });
  CHECK(outside.load() == 0);
  CHECK_FALSE(WorkerTeam::in_job());
}

TEST_CASE("a worker team stops and joins its workers, asleep or spinning") {
  for (int i = 0; i < 50; ++i) {
    WorkerTeam team(2, microseconds(i % 2 == 0 ? 0 : 5000));
    std::atomic<int> sum{0};
    team.run(10, [&](std::int64_t b) { sum.fetch_add(static_cast<int>(b)); });
    CHECK(sum.load() == 45);
    if (i % 3 == 0) std::this_thread::sleep_for(milliseconds(1));
  }
}

TEST_CASE("parallel_blocks spreads blocks over the intra-op threads and runs nested sections inline") {
  IntraOpThreads two(2);
  std::mutex mutex;
  std::set<std::thread::id> threads;
  std::vector<int> runs(32, 0);
  std::atomic<int> nested_elsewhere{0};
  parallel_blocks(32, [&](std::int64_t b) {
    const auto outer = std::this_thread::get_id();
    parallel_blocks(4, [&](std::int64_t) {
      if (std::this_thread::get_id() != outer) nested_elsewhere.fetch_add(1);
    });
    std::this_thread::sleep_for(milliseconds(2));
    std::lock_guard lock(mutex);
    threads.insert(outer);
    ++runs[static_cast<std::size_t>(b)];
  });
  CHECK(std::all_of(runs.begin(), runs.end(), [](int n) { return n == 1; }));
  CHECK(threads.size() == 2);
  CHECK(nested_elsewhere.load() == 0);
}

TEST_CASE("parallel_blocks from two threads at once: both finish, each block once") {
  IntraOpThreads two(2);
  constexpr int kJobs = 300;
  auto caller = [](std::vector<int>& totals) {
    for (int job = 0; job < kJobs; ++job) {
      std::atomic<int> sum{0};
      parallel_blocks(20, [&](std::int64_t b) { sum.fetch_add(static_cast<int>(b) + 1); });
      totals.push_back(sum.load());
    }
  };
  std::vector<int> a, b;
  std::thread other(caller, std::ref(b));
  caller(a);
  other.join();
  REQUIRE(a.size() == kJobs);
  REQUIRE(b.size() == kJobs);
  CHECK(std::all_of(a.begin(), a.end(), [](int s) { return s == 210; }));
  CHECK(std::all_of(b.begin(), b.end(), [](int s) { return s == 210; }));
}

TEST_CASE("parallel_blocks_omp spreads blocks over libtorch's threads") {
  IntraOpThreads two(2);
  std::mutex mutex;
  std::set<std::thread::id> threads;
  std::vector<int> runs(64, 0);
  parallel_blocks_omp(64, [&](std::int64_t b) {
    std::this_thread::sleep_for(milliseconds(2));
    std::lock_guard lock(mutex);
    threads.insert(std::this_thread::get_id());
    ++runs[static_cast<std::size_t>(b)];
  });
  CHECK(std::all_of(runs.begin(), runs.end(), [](int n) { return n == 1; }));
  CHECK(threads.size() == 2);
}

}  // namespace
}  // namespace dsgw::local
