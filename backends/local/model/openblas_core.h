// Which kernels OpenBLAS runs prefill's matmuls with. OpenBLAS (a
// DYNAMIC_ARCH build, as Debian's) picks its kernels by CPU model when it is
// loaded, and on a model it does not know falls back to its SSE3 "Prescott"
// kernels: Debian 12's 0.3.21 does so on Intel's Emerald Rapids (family 6
// model 207), where prefill ran 4x slower (bench/RESULTS.md, 2026-11-29
// 13:00). It reads OPENBLAS_CORETYPE only when it is loaded, so the fix is
// to run the program again with it set: the programs that run the engine
// (dsgw serve and generate, dsgw-engine, the benchmark) call
// rerun_with_fitting_openblas_core first.
#pragma once

#include <string>
#include <string_view>

namespace dsgw::local {

// The vector extensions that decide which OpenBLAS kernels fit a CPU.
struct CpuVectorSupport {
  bool avx2_fma = false;
  bool avx512 = false;  // F, BW, VL, DQ and CD: OpenBLAS's SkylakeX kernels
  bool avx512_bf16 = false;
};

CpuVectorSupport cpu_vector_support();

// The OPENBLAS_CORETYPE to force when OpenBLAS picked the core `picked` (as
// openblas_get_corename spells it) on a CPU with `cpu`: empty when `picked`
// already has AVX2 kernels or the CPU has no AVX2 and FMA.
std::string openblas_core_to_force(std::string_view picked, const CpuVectorSupport& cpu);

// The core of the OpenBLAS loaded into this process ("Haswell", ...); empty
// when libtorch's BLAS is not OpenBLAS.
std::string openblas_core();

// Runs this program again (same pid and arguments, execv of /proc/self/exe)
// with OPENBLAS_CORETYPE set when openblas_core_to_force says so and the
// variable is not set already. Call it first in main, before any thread
// starts or file opens. Returns when there is nothing to do, or if the exec
// failed (prefill is then slow, not wrong).
void rerun_with_fitting_openblas_core();

// For the engine's load line: "OpenBLAS Cooperlake", with "(forced by dsgw:
// OpenBLAS picked Prescott)" when rerun_with_fitting_openblas_core set it;
// empty when the BLAS is not OpenBLAS.
std::string blas_summary();

}  // namespace dsgw::local
