// Matrix-vector products for decode: Y[b, o] = sum_i W[o, i] * X[b, i] for a
// few rows b of X at once, W in fp32 or bf16, X and Y in fp32. At batch 1
// decode reads every weight once per token, so this is memory-bound; libtorch
// 1.13's `linear` on a single row reaches only a fraction of the bandwidth and
// it has no fast bf16 path. Plain pointers, no libtorch: the caller splits the
// output rows across threads.
#pragma once

#include <cstdint>

namespace dsgw::local {

inline constexpr int kGemvMaxBatch = 16;

struct GemvArgs {
  const void* w = nullptr;  // [out, in] row-major, fp32 or bf16 (see bf16)
  bool bf16 = false;
  std::int64_t in = 0;
  const float* x = nullptr;  // [batch, in], rows x_stride apart
  std::int64_t x_stride = 0;
  int batch = 1;       // 1..kGemvMaxBatch
  float* y = nullptr;  // [batch, out], rows y_stride apart
  std::int64_t y_stride = 0;
  // Distinct per product (0: unknown): a kernel that rearranges x once per
  // thread reuses the rearrangement across the row blocks of one product.
  std::uint64_t call_id = 0;
};

// A process-wide unique GemvArgs::call_id.
std::uint64_t next_gemv_call_id();

// Computes output rows [o_begin, o_end).
void gemv_rows(const GemvArgs& args, std::int64_t o_begin, std::int64_t o_end);

// Output rows per block when a product of `out` rows of `in` weights is
// shared among `threads` threads: about 256 KB of weights, at least 8
// blocks per thread for balance, a multiple of the kernels' widest tile
// (16 rows) so that no block leaves rows to a narrower tile.
std::int64_t gemv_block_rows(std::int64_t out, std::int64_t in, std::int64_t element_size, int threads);

// Which kernel runs here: "avx512", "avx2" or "generic".
const char* gemv_kernel_name();

// Switches to the named kernel if this CPU supports it (returns false if
// not). For tests, so that every kernel this CPU can run gets checked; not
// thread-safe against running products.
bool gemv_use_kernel(const char* name);

}  // namespace dsgw::local
