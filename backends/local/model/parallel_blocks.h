// Work sharing for the engine's CPU kernels. Internal to the engine.
#pragma once

#include <cstdint>
#include <functional>

namespace dsgw::local {

// Runs fn(block) for blocks [0, blocks) on libtorch's intra-op threads,
// handing out blocks one at a time: a thread the OS preempts (the gateway's
// other threads share these cores) takes fewer blocks instead of stalling the
// whole op. Runs inline when called from inside a parallel region.
// Compiled with OpenMP, like libtorch's own pool: without it at::parallel_for
// silently runs on one thread.
void parallel_blocks(std::int64_t blocks, const std::function<void(std::int64_t)>& fn);

}  // namespace dsgw::local
