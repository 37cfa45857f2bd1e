#include "backends/local/model/worker_team.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace dsgw::local {
namespace {

thread_local bool t_in_job = false;

// A hint to the core that this thread is spinning.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Futexes directly: libstdc++ 12's std::atomic<T>::wait can miss a
// notify_all (a worker slept through the team's shutdown here).
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
              std::atomic<std::uint32_t>::is_always_lock_free);

void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr,
          0);
}

void futex_wake_all(std::atomic<std::uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr,
          0);
}

// Spins between loads of a flag: a yield to the scheduler every this many
// (a few microseconds), so that a thread waiting for this core gets it.
constexpr int kRelaxesPerYield = 64;

}  // namespace

WorkerTeam::WorkerTeam(int workers, std::chrono::microseconds spin) : spin_(spin) {
  workers_.reserve(static_cast<std::size_t>(std::max(0, workers)));
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { work(); });
}

WorkerTeam::~WorkerTeam() {
  stop_.store(true, std::memory_order_seq_cst);
  epoch_.fetch_add(2, std::memory_order_seq_cst);  // a change that opens no job
  futex_wake_all(epoch_);
  for (auto& t : workers_) t.join();
}

bool WorkerTeam::in_job() { return t_in_job; }

void WorkerTeam::take_blocks() {
  for (std::int64_t b = next_.fetch_add(1, std::memory_order_relaxed); b < blocks_;
       b = next_.fetch_add(1, std::memory_order_relaxed)) {
    (*fn_)(b);
  }
}

void WorkerTeam::run(std::int64_t blocks, const std::function<void(std::int64_t)>& fn) {
  t_in_job = true;
  if (workers_.empty() || blocks <= 1) {
    for (std::int64_t b = 0; b < blocks; ++b) fn(b);
    t_in_job = false;
    return;
  }
  fn_ = &fn;
  blocks_ = blocks;
  next_.store(0, std::memory_order_relaxed);
  epoch_.fetch_add(1, std::memory_order_seq_cst);  // open
  // A worker counts itself a sleeper before it checks the epoch and sleeps,
  // so either it sees the job or this sees it.
  if (sleepers_.load(std::memory_order_seq_cst) > 0) futex_wake_all(epoch_);
  take_blocks();
  epoch_.fetch_add(1, std::memory_order_seq_cst);  // close: no worker enters now
  // Workers still in the job are running their last block.
  for (int i = 1; inside_.load(std::memory_order_seq_cst) != 0; ++i) {
    cpu_relax();
    if (i % kRelaxesPerYield == 0) std::this_thread::yield();
  }
  t_in_job = false;
}

std::uint32_t WorkerTeam::await_change(std::uint32_t seen) {
  const auto deadline = std::chrono::steady_clock::now() + spin_;
  for (int i = 1;; ++i) {
    const std::uint32_t e = epoch_.load(std::memory_order_acquire);
    if (e != seen) return e;
    cpu_relax();
    if (i % kRelaxesPerYield == 0) {
      if (std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::yield();
    }
  }
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  std::uint32_t e = epoch_.load(std::memory_order_seq_cst);
  while (e == seen) {
    futex_wait(epoch_, seen);  // returns at once if the epoch moved on; may wake spuriously
    e = epoch_.load(std::memory_order_seq_cst);
  }
  sleepers_.fetch_sub(1, std::memory_order_relaxed);
  return e;
}

void WorkerTeam::work() {
  t_in_job = true;
  // The epoch the team started with, not the one this thread first sees:
  // the caller may have opened a job, or stopped the team, before it ran.
  std::uint32_t seen = 0;
  for (;;) {
    const std::uint32_t e = await_change(seen);
    seen = e;
    if (stop_.load(std::memory_order_acquire)) return;
    if ((e & 1u) == 0) continue;  // a job closed before this worker came
    // Enter, then check the job is still open: the caller closes, then
    // waits for inside_ to drain, so it either waits for this worker or
    // this worker sees the job closed and touches nothing.
    inside_.fetch_add(1, std::memory_order_seq_cst);
    if (epoch_.load(std::memory_order_seq_cst) == e) take_blocks();
    inside_.fetch_sub(1, std::memory_order_release);
  }
}

}  // namespace dsgw::local
