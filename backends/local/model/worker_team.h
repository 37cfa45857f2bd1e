// A calling thread and a few worker threads that share one job at a time,
// handed out a block at a time. Internal to the engine.
//
// Decode runs about 200 short parallel sections a step (each matmul and
// the attention of every layer). A worker that sleeps between them, as
// libgomp's do under OMP_WAIT_POLICY=PASSIVE, takes a scheduler wake-up to
// join each one while the other core idles. These workers spin for a short
// while after a job (yielding the core to anything else that is runnable)
// and only then sleep, so they are already awake for the next section of
// the same step, and an idle engine's are asleep. The matmuls of a bf16
// R1-Distill-Qwen-1.5B decode step ran 1.03-1.21x faster at batch 1 and
// 1.05x at 16 rows this way than on libgomp's threads (same-process A/B
// runs on 2 cores; bench/RESULTS.md, 2026-11-29 09:15).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace dsgw::local {

class WorkerTeam {
 public:
  // `workers` threads besides the caller; how long each spins after a job
  // before it sleeps.
  WorkerTeam(int workers, std::chrono::microseconds spin);
  ~WorkerTeam();  // stops and joins the workers
  WorkerTeam(const WorkerTeam&) = delete;
  WorkerTeam& operator=(const WorkerTeam&) = delete;

  // Threads that run jobs: the workers and the caller.
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(block) once for every block in [0, blocks) on the caller and
  // the workers that are there in time, and returns when all are done. The
  // caller never waits for a sleeping worker to wake up: it takes the blocks
  // itself. One caller at a time; fn must not throw.
  void run(std::int64_t blocks, const std::function<void(std::int64_t)>& fn);

  // Whether this thread is running a team's job (a worker, or a caller
  // inside run()): a parallel section nested in one runs inline.
  static bool in_job();

 private:
  void work();
  void take_blocks();
  std::uint32_t await_change(std::uint32_t seen);

  // Odd while a job is open; bumped to open and to close one.
  std::atomic<std::uint32_t> epoch_{0};
  std::atomic<int> inside_{0};    // workers in the open job
  std::atomic<int> sleepers_{0};  // workers asleep on epoch_ (a futex)
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> next_{0};
  // The open job; written by the caller only while no worker is inside.
  const std::function<void(std::int64_t)>* fn_ = nullptr;
  std::int64_t blocks_ = 0;
  const std::chrono::microseconds spin_;
  std::vector<std::thread> workers_;
};

}  // namespace dsgw::local
