// y = x W^T (+ bias): the one place that picks the matmul primitive.
//   CPU, up to 16 rows (decode): our gemv kernels (fp32 or bf16 weights,
//     fp32 x), over blocks of output rows handed out to the intra-op threads;
//   CPU, many rows (prefill): W in blocks of output rows spread over the
//     intra-op threads, each block (widened to fp32 in a per-thread scratch
//     buffer when W is bf16, so activations stay fp32) multiplied with one
//     single-threaded BLAS sgemm straight into its columns of y;
//   CUDA: at::linear (x and W share the dtype).
// Internal to the engine.
#pragma once

#include <ATen/core/Tensor.h>

namespace dsgw::local {

// Sets libtorch's intra-op threads (process-wide) and makes OpenBLAS, if it
// is the BLAS libtorch loaded, single-threaded: the engine splits matmuls
// across threads itself, and two spinning thread pools on two cores fight.
void set_cpu_threads(int threads);

class Linear {
 public:
  // The most rows the gemv kernels take.
  static constexpr int kMaxGemvRows = 16;

  // x: [rows, in] contiguous; w: [out, in]; bias: [out] or undefined.
  // Writes y: [rows, out] contiguous, allocated by the caller.
  void forward(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias, at::Tensor& y);

  // Rows up to which the gemv kernels are used instead of a matmul.
  void set_gemv_max_rows(int rows);

 private:
  void gemv(const at::Tensor& x, const at::Tensor& w, at::Tensor& y);
  void blocked_mm(const at::Tensor& x, const at::Tensor& w, at::Tensor& y);

  int gemv_max_rows_ = kMaxGemvRows;
};

}  // namespace dsgw::local
