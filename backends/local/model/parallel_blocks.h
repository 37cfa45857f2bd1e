// Work sharing for the engine's CPU kernels. Internal to the engine.
//
// Both run fn(block) for blocks [0, blocks) on as many threads as libtorch
// has intra-op threads (at::get_num_threads(), the engine's `threads`),
// handing out blocks one at a time: a thread the OS preempts (the gateway's
// other threads share these cores) takes fewer blocks instead of stalling the
// whole section. Both run inline when called from inside either kind of
// parallel section.
#pragma once

#include <cstdint>
#include <functional>

namespace dsgw::local {

// For plain kernels (gemv, decode attention): fn calls no libtorch ops. Runs
// on the engine's WorkerTeam, whose workers stay awake between the many
// short sections of a decode step. If another thread is using the team, runs
// inline.
void parallel_blocks(std::int64_t blocks, const std::function<void(std::int64_t)>& fn);

// For fn that calls libtorch ops (prefill's matmuls): on libtorch's own
// OpenMP threads, inside which those ops run single-threaded.
void parallel_blocks_omp(std::int64_t blocks, const std::function<void(std::int64_t)>& fn);

}  // namespace dsgw::local
