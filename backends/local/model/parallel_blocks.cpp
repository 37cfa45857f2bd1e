#include "backends/local/model/parallel_blocks.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>

#include "backends/local/model/worker_team.h"

#if !defined(_OPENMP)
#error "parallel_blocks.cpp must be compiled with OpenMP (libtorch's intra-op pool is OpenMP)"
#endif

namespace dsgw::local {
namespace {

// How long a worker stays awake after a section: longer than the gaps
// inside a decode step (norms, RoPE, sampling between steps), short enough
// that an idle engine sleeps at once.
constexpr std::chrono::microseconds kTeamSpin{1000};

bool nested() { return WorkerTeam::in_job() || at::in_parallel_region(); }

void run_inline(std::int64_t blocks, const std::function<void(std::int64_t)>& fn) {
  for (std::int64_t b = 0; b < blocks; ++b) fn(b);
}

}  // namespace

void parallel_blocks(std::int64_t blocks, const std::function<void(std::int64_t)>& fn) {
  const int threads = std::max(1, at::get_num_threads());
  if (threads <= 1 || blocks <= 1 || nested()) return run_inline(blocks, fn);
  // One team for the process, sized to the intra-op threads of the first
  // caller that finds it missing or of another size.
  static std::mutex mutex;
  static std::unique_ptr<WorkerTeam> team;
  std::unique_lock lock(mutex, std::try_to_lock);
  if (!lock.owns_lock()) return run_inline(blocks, fn);
  if (!team || team->size() != threads) {
    team.reset();
    team = std::make_unique<WorkerTeam>(threads - 1, kTeamSpin);
  }
  team->run(blocks, fn);
}

void parallel_blocks_omp(std::int64_t blocks, const std::function<void(std::int64_t)>& fn) {
  const std::int64_t threads = std::min<std::int64_t>(std::max(1, at::get_num_threads()), blocks);
  if (threads <= 1 || nested()) return run_inline(blocks, fn);
  std::atomic<std::int64_t> next{0};
  at::parallel_for(0, threads, 1, [&](std::int64_t, std::int64_t) {
    for (std::int64_t b = next.fetch_add(1, std::memory_order_relaxed); b < blocks;
         b = next.fetch_add(1, std::memory_order_relaxed)) {
      fn(b);
    }
  });
}

}  // namespace dsgw::local
