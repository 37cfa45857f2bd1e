// Which OpenBLAS kernels dsgw forces, and on which CPUs.
#include "backends/local/model/openblas_core.h"

#include <doctest/doctest.h>

namespace dsgw::local {
namespace {

constexpr CpuVectorSupport kSse = {};
constexpr CpuVectorSupport kAvx2 = {.avx2_fma = true};
constexpr CpuVectorSupport kAvx512 = {.avx2_fma = true, .avx512 = true};
constexpr CpuVectorSupport kAvx512Bf16 = {.avx2_fma = true, .avx512 = true, .avx512_bf16 = true};

TEST_CASE("OpenBLAS's SSE3 fallback on a CPU with AVX2 is replaced by the widest kernels the CPU runs") {
  CHECK(openblas_core_to_force("Prescott", kAvx512Bf16) == "Cooperlake");
  CHECK(openblas_core_to_force("Prescott", kAvx512) == "SkylakeX");
  CHECK(openblas_core_to_force("Prescott", kAvx2) == "Haswell");
  CHECK(openblas_core_to_force("Nehalem", kAvx2) == "Haswell");
  CHECK(openblas_core_to_force("Sandybridge", kAvx512) == "SkylakeX");
}

TEST_CASE("OpenBLAS's own choice stands when it has AVX2 kernels, or the CPU has no AVX2") {
  for (const char* core : {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", "Excavator"}) {
    CAPTURE(core);
    CHECK(openblas_core_to_force(core, kAvx512Bf16).empty());
  }
  CHECK(openblas_core_to_force("Prescott", kSse).empty());
  CHECK(openblas_core_to_force("", kAvx512Bf16).empty());  // not OpenBLAS
}

}  // namespace
}  // namespace dsgw::local
