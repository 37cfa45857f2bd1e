// Which kernels OpenBLAS runs prefill's matmuls with. OpenBLAS (a
// DYNAMIC_ARCH build, as Debian's) picks its kernels by CPU model when it is
// loaded, and on a model it does not know falls back to its SSE3 "Prescott"
// kernels: Debian 12's 0.3.21 does so on Intel's Emerald Rapids (family 6
// model 207), where prefill ran 4x slower (bench/RESULTS.md, 2026-11-29
// 12:56). It reads OPENBLAS_CORETYPE only when it is loaded, so the fix is
// to run the program again with it set: the programs that run the engine
// (dsgw serve and generate, dsgw-engine, the benchmark) call
// rerun_with_fitting_openblas_core early.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dsgw::local {

// The vector extensions that decide which OpenBLAS kernels fit a CPU.
struct CpuVectorSupport {
  bool avx2_fma = false;
  bool avx512 = false;  // F, BW, VL, DQ and CD: OpenBLAS's SkylakeX kernels
  bool avx512_bf16 = false;
};

CpuVectorSupport cpu_vector_support();

// The OPENBLAS_CORETYPE to force when OpenBLAS picked the core `picked` (as
// openblas_get_corename spells it, in any case) on a CPU with `cpu`: empty
// unless `picked` is one of OpenBLAS's cores from before AVX2 (its fallbacks)
// and the CPU has AVX2 and FMA.
std::string openblas_core_to_force(std::string_view picked, const CpuVectorSupport& cpu);

// The core of the OpenBLAS loaded into this process ("Haswell", ...); empty
// when libtorch's BLAS is not OpenBLAS.
std::string openblas_core();

// /proc/self/cmdline's arguments (each ended by a NUL); nullopt when the
// last one is cut short or there are none.
std::optional<std::vector<std::string>> split_command_line(std::string_view cmdline);

// Runs this program again (same pid, path and arguments) with
// OPENBLAS_CORETYPE set when openblas_core_to_force says so and the variable
// is not set already. Call it before the program starts threads of its own,
// changes signal handling or opens descriptors (exec keeps the signal mask
// and descriptors without O_CLOEXEC). Returns nullopt when there was nothing
// to do; if the run could not be repeated, what went wrong, for the caller to
// report (prefill is then slow, not wrong).
std::optional<std::string> rerun_with_fitting_openblas_core();

// For the engine's load line: "OpenBLAS Cooperlake", with "(forced by dsgw:
// OpenBLAS picked Prescott)" when rerun_with_fitting_openblas_core set it and
// OpenBLAS took it, or "(dsgw asked for X: OpenBLAS did not take it)"; empty
// when the BLAS is not OpenBLAS.
std::string blas_summary();

}  // namespace dsgw::local
