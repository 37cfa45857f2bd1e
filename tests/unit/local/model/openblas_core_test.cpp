// Which OpenBLAS kernels dsgw forces, and on which CPUs.
#include "backends/local/model/openblas_core.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

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

TEST_CASE(
    "OpenBLAS's own choice stands when it has AVX2 kernels, is unknown to dsgw, or the CPU has no AVX2") {
  for (const char* core : {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", "Excavator",
                           "HASWELL", "SKYLAKEX", "GraniteRapids"}) {
    CAPTURE(core);
    CHECK(openblas_core_to_force(core, kAvx512Bf16).empty());
  }
  CHECK(openblas_core_to_force("Prescott", kSse).empty());
  CHECK(openblas_core_to_force("", kAvx512Bf16).empty());  // not OpenBLAS
}

TEST_CASE("core names compare in any case, as OPENBLAS_CORETYPE does") {
  CHECK(openblas_core_to_force("PRESCOTT", kAvx2) == "Haswell");
  CHECK(openblas_core_to_force("nehalem", kAvx512) == "SkylakeX");
}

TEST_CASE("the command line to run again is split at its NULs, and refused when cut short") {
  using Args = std::vector<std::string>;
  using namespace std::string_view_literals;  // "..."sv keeps the NULs inside
  CHECK(split_command_line("dsgw\0serve\0--config\0a b.toml\0"sv) ==
        Args{"dsgw", "serve", "--config", "a b.toml"});
  CHECK(split_command_line("dsgw\0\0x\0"sv) == Args{"dsgw", "", "x"});  // an empty argument
  CHECK_FALSE(split_command_line("dsgw\0serv"sv));                      // the last one cut short
  CHECK_FALSE(split_command_line(""));
}

}  // namespace
}  // namespace dsgw::local
