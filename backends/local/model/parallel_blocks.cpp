#include "backends/local/model/parallel_blocks.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>

#if !defined(_OPENMP)
#error "parallel_blocks.cpp must be compiled with OpenMP (libtorch's intra-op pool is OpenMP)"
#endif

namespace dsgw::local {

void parallel_blocks(std::int64_t blocks, const std::function<void(std::int64_t)>& fn) {
  const std::int64_t threads = std::min<std::int64_t>(std::max(1, at::get_num_threads()), blocks);
  if (threads <= 1 || at::in_parallel_region()) {
    for (std::int64_t b = 0; b < blocks; ++b) fn(b);
    return;
  }
  std::atomic<std::int64_t> next{0};
  at::parallel_for(0, threads, 1, [&](std::int64_t, std::int64_t) {
    for (std::int64_t b = next.fetch_add(1, std::memory_order_relaxed); b < blocks;
         b = next.fetch_add(1, std::memory_order_relaxed)) {
      fn(b);
    }
  });
}

}  // namespace dsgw::local
