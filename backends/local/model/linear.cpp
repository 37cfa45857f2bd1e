#include "backends/local/model/linear.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <algorithm>
#include <vector>

#include "backends/local/model/gemv.h"
#include "backends/local/model/parallel_blocks.h"

namespace dsgw::local {
namespace {

// Output rows per block of a matmul (prefill), whatever the width of W:
// OpenBLAS's sgemm on one thread needs about 200 rows per call to run at full
// speed (on 256 prompt rows here: 37 GFLOP/s for 43 rows of the 8960-wide
// down projection, 94 for 192; 91 for 256 rows of a 1536-wide matrix). A bf16
// block is widened into a per-thread fp32 copy of at most 256 x 8960 floats
// (9 MB, in L3) for R1-Distill-Qwen-1.5B.
constexpr std::int64_t kMatmulBlockRows = 256;

}  // namespace

void set_cpu_threads(int threads) {
  at::set_num_threads(std::max(1, threads));
  // Looked up, not linked: libtorch reaches BLAS through libblas.so.3, which
  // may be OpenBLAS or the reference BLAS (no threads to set).
  using SetThreads = void (*)(int);
  if (auto* set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(1);
}

void Linear::set_gemv_max_rows(int rows) { gemv_max_rows_ = std::clamp(rows, 0, kMaxGemvRows); }

void Linear::forward(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias, at::Tensor& y) {
  if (x.is_cuda()) {
    y.copy_(at::linear(x, w, bias));
    return;
  }
  const std::int64_t rows = x.size(0);
  if (rows <= gemv_max_rows_) {
    gemv(x, w, y);
  } else {
    blocked_mm(x, w, y);
  }
  if (bias.defined()) y.add_(bias);
}

void Linear::gemv(const at::Tensor& x, const at::Tensor& w, at::Tensor& y) {
  GemvArgs a;
  a.w = w.data_ptr();
  a.bf16 = w.scalar_type() == at::kBFloat16;
  a.in = w.size(1);
  a.x = x.data_ptr<float>();
  a.x_stride = x.stride(0);
  a.y = y.data_ptr<float>();
  a.y_stride = y.stride(0);
  a.batch = static_cast<int>(x.size(0));
  a.call_id = next_gemv_call_id();
  const std::int64_t out = w.size(0);
  const std::int64_t block = gemv_block_rows(out, w.size(1), w.element_size(), at::get_num_threads());
  const std::int64_t blocks = (out + block - 1) / block;
  parallel_blocks(blocks, [&](std::int64_t b) { gemv_rows(a, b * block, std::min(out, (b + 1) * block)); });
}

void Linear::blocked_mm(const at::Tensor& x, const at::Tensor& w, at::Tensor& y) {
  const std::int64_t out = w.size(0);
  const std::int64_t in = w.size(1);
  const bool widen = w.scalar_type() != at::kFloat;
  const std::int64_t threads = std::max(1, at::get_num_threads());
  // At least 4 blocks per thread, for balance.
  const std::int64_t block =
      std::min(kMatmulBlockRows, std::max<std::int64_t>(16, (out + 4 * threads - 1) / (4 * threads)));
  const std::int64_t blocks = (out + block - 1) / block;
  parallel_blocks_omp(blocks, [&](std::int64_t b) {
    // Per-thread fp32 copy of a block of W (bf16 only); kept between calls.
    thread_local std::vector<float> scratch;
    const std::int64_t o = b * block;
    const std::int64_t n = std::min(block, out - o);
    at::Tensor wb = w.narrow(0, o, n);
    if (widen) {
      if (scratch.size() < static_cast<std::size_t>(n * in)) scratch.resize(static_cast<std::size_t>(n * in));
      at::Tensor wf = at::from_blob(scratch.data(), {n, in}, at::kFloat);
      wf.copy_(wb);
      wb = wf;
    }
    // y[:, o:o+n] has strides (out, 1): BLAS writes it in place.
    at::Tensor part = y.narrow(1, o, n);
    at::mm_out(part, x, wb.t());
  });
}

}  // namespace dsgw::local
