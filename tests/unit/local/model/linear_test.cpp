// Our matmul primitives against at::mm in double. (libtorch headers come
// before doctest's everywhere in these tests: they define glog's CHECK.)
#include "backends/local/model/linear.h"

#include <ATen/ATen.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "backends/local/model/gemv.h"

namespace dsgw::local {
namespace {

void check_linear(std::int64_t rows, std::int64_t out, std::int64_t in, at::ScalarType wtype, bool bias) {
  CAPTURE(rows);
  CAPTURE(out);
  CAPTURE(in);
  CAPTURE(wtype == at::kBFloat16);
  at::manual_seed(rows * 1000 + out + in);
  at::Tensor w = at::randn({out, in}).to(wtype);
  at::Tensor x = at::randn({rows, in});
  at::Tensor b = bias ? at::randn({out}) : at::Tensor();
  at::Tensor expected = at::mm(x.to(at::kDouble), w.to(at::kDouble).t());
  if (bias) expected += b.to(at::kDouble);
  at::Tensor y = at::full({rows, out}, 12345.0f);
  Linear linear;
  linear.forward(x, w, b, y);
  const double err = (y.to(at::kDouble) - expected).abs().max().item<double>();
  CHECK(err < 1e-4 * std::max(1.0, expected.abs().max().item<double>()));
}

TEST_CASE("gemv kernels: every kernel this CPU has, every batch size, odd shapes, both weight dtypes") {
  const std::string detected = gemv_kernel_name();
  MESSAGE("gemv kernel: " << detected);
  int kernels = 0;
  for (const char* kernel : {"generic", "avx2", "avx512"}) {
    if (!gemv_use_kernel(kernel)) continue;
    ++kernels;
    CAPTURE(kernel);
    for (auto wtype : {at::kFloat, at::kBFloat16}) {
      for (std::int64_t rows = 1; rows <= Linear::kMaxGemvRows; ++rows) {  // > 8: several kernel calls
        check_linear(rows, 37, 19, wtype, false);                          // tails only
        check_linear(rows, 130, 64, wtype, true);                          // full vectors
        check_linear(rows, 1, 97, wtype, false);                           // one output row
        check_linear(rows, 67, 100, wtype, false);                         // vectors plus a tail
        check_linear(rows, 35, 300, wtype, false);                         // several blocks of inputs
      }
      check_linear(1, 1536, 1536, wtype, true);
    }
  }
  CHECK(kernels >= 1);
  CHECK(gemv_use_kernel(detected.c_str()));
  CHECK(std::string(gemv_kernel_name()) == detected);
}

TEST_CASE("matmul paths for many rows") {
  for (auto wtype : {at::kFloat, at::kBFloat16}) {
    check_linear(17, 37, 19, wtype, true);
    check_linear(33, 700, 70, wtype, false);  // bf16: several widened blocks
    check_linear(64, 5000, 96, wtype, true);
  }
}

TEST_CASE(
    "gemv kernels for many rows: whole 16-row tiles plus tail rows in one call, inputs past the fetch "
    "distance") {
  // gemv_rows over all 35 rows at once (Linear's blocks would split them):
  // two 16-row tiles, then 3 rows; 1,600 inputs: 12 blocks of 128 and a tail.
  for (auto wtype : {at::kFloat, at::kBFloat16}) {
    for (int rows = 12; rows <= kGemvMaxBatch; ++rows) {
      for (std::int64_t in : {300, 1600}) {
        CAPTURE(wtype == at::kBFloat16);
        CAPTURE(rows);
        CAPTURE(in);
        at::manual_seed(rows * 10 + in);
        const at::Tensor w = at::randn({35, in}).to(wtype);
        const at::Tensor x = at::randn({rows, in});
        at::Tensor y = at::full({rows, 35}, 12345.0f);
        GemvArgs a;
        a.w = w.data_ptr();
        a.bf16 = wtype == at::kBFloat16;
        a.in = in;
        a.x = x.data_ptr<float>();
        a.x_stride = in;
        a.batch = rows;
        a.y = y.data_ptr<float>();
        a.y_stride = 35;
        a.call_id = next_gemv_call_id();
        gemv_rows(a, 0, 35);
        const at::Tensor expected = at::mm(x.to(at::kDouble), w.to(at::kDouble).t());
        CHECK((y.to(at::kDouble) - expected).abs().max().item<double>() <
              1e-4 * expected.abs().max().item<double>());
      }
    }
  }
}

TEST_CASE("gemv kernels see new contents of a reused input buffer") {
  // The kernels rearrange x once per product; a second product on the same
  // buffer (the allocator reuses them) must not see the old x.
  for (auto wtype : {at::kFloat, at::kBFloat16}) {
    for (std::int64_t rows : {1, 16}) {
      CAPTURE(wtype == at::kBFloat16);
      CAPTURE(rows);
      at::Tensor w = at::randn({300, 96}).to(wtype);
      at::Tensor x = at::randn({rows, 96});
      at::Tensor y = at::empty({rows, 300});
      for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        x.normal_();
        Linear linear;  // a fresh instance each time, too
        linear.forward(x, w, at::Tensor(), y);
        CHECK(at::allclose(y, at::mm(x, w.to(at::kFloat).t()), 1e-4, 1e-4));
      }
    }
  }
}

TEST_CASE("gemv can be limited to one row") {
  Linear linear;
  linear.set_gemv_max_rows(1);
  at::Tensor w = at::randn({50, 40}).to(at::kBFloat16);
  at::Tensor x = at::randn({3, 40});
  at::Tensor y = at::empty({3, 50});
  linear.forward(x, w, at::Tensor(), y);
  CHECK(at::allclose(y, at::mm(x, w.to(at::kFloat).t()), 1e-4, 1e-4));
}

}  // namespace
}  // namespace dsgw::local
