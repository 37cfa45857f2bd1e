#include "backends/local/model/openblas_core.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <iterator>
#include <vector>

namespace dsgw::local {
namespace {

// Set beside OPENBLAS_CORETYPE before the rerun: the core OpenBLAS had picked.
constexpr const char* kPickedVariable = "DSGW_OPENBLAS_PICKED";

// OpenBLAS's cores with AVX2 kernels (its corename table, x86-64).
constexpr std::array<std::string_view, 6> kAvx2Cores = {"Haswell",  "Excavator",  "Zen",
                                                        "SkylakeX", "Cooperlake", "SapphireRapids"};

}  // namespace

CpuVectorSupport cpu_vector_support() {
  CpuVectorSupport cpu;
#if defined(__x86_64__)
  __builtin_cpu_init();
  cpu.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  cpu.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512cd");
  cpu.avx512_bf16 = cpu.avx512 && __builtin_cpu_supports("avx512bf16");
#endif
  return cpu;
}

std::string openblas_core_to_force(std::string_view picked, const CpuVectorSupport& cpu) {
  if (picked.empty() || !cpu.avx2_fma) return "";
  for (std::string_view core : kAvx2Cores) {
    if (picked == core) return "";
  }
  if (cpu.avx512_bf16) return "Cooperlake";
  if (cpu.avx512) return "SkylakeX";
  return "Haswell";
}

std::string openblas_core() {
  // Looked up, not linked: libtorch reaches BLAS through libblas.so.3.
  using CoreName = char* (*)();
  auto* name = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  const char* core = name ? name() : nullptr;
  return core ? core : "";
}

void rerun_with_fitting_openblas_core() {
  if (getenv("OPENBLAS_CORETYPE") != nullptr) return;
  const std::string picked = openblas_core();
  const std::string core = openblas_core_to_force(picked, cpu_vector_support());
  if (core.empty()) return;
  // The arguments as this process got them, NUL-separated.
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<char*> argv;
  for (std::size_t at = 0; at < cmdline.size();) {
    const std::size_t end = cmdline.find('\0', at);
    if (end == std::string::npos) return;  // cut short: cannot rerun it as it was
    argv.push_back(const_cast<char*>(cmdline.c_str() + at));
    at = end + 1;
  }
  if (argv.empty()) return;
  argv.push_back(nullptr);
  setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
  setenv(kPickedVariable, picked.c_str(), 1);
  execv("/proc/self/exe", argv.data());
  unsetenv("OPENBLAS_CORETYPE");  // exec failed: carry on as loaded
  unsetenv(kPickedVariable);
}

std::string blas_summary() {
  const std::string core = openblas_core();
  if (core.empty()) return "";
  std::string summary = "OpenBLAS " + core;
  if (const char* picked = getenv(kPickedVariable); picked != nullptr && *picked != '\0')
    summary += std::string(" (forced by dsgw: OpenBLAS picked ") + picked + ")";
  return summary;
}

}  // namespace dsgw::local
