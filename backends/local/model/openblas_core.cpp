#include "backends/local/model/openblas_core.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace dsgw::local {
namespace {

// Set beside OPENBLAS_CORETYPE before the rerun: the core OpenBLAS had picked.
constexpr const char* kPickedVariable = "DSGW_OPENBLAS_PICKED";

// OpenBLAS's x86 cores from before AVX2 (its corename table, older and newer
// spellings): where it lands on a CPU it does not know. Any other name (AVX2
// and later, or one newer than this list) is left alone.
constexpr std::array<std::string_view, 23> kPreAvx2Cores = {
    "Unknown",     "Katmai",  "Coppermine",   "Northwood",     "Prescott",   "Banias",
    "Yonah",       "Atom",    "Core2",        "Penryn",        "Dunnington", "Nehalem",
    "Athlon",      "Opteron", "Opteron_SSE3", "Opteron(SSE3)", "Barcelona",  "Nano",
    "Sandybridge", "Bobcat",  "Bulldozer",    "Piledriver",    "Steamroller"};

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// This process's command line, as /proc/self/cmdline holds it.
std::string read_command_line() {
  std::string cmdline;
  const int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return cmdline;
  char buffer[4096];
  for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) > 0;) cmdline.append(buffer, static_cast<size_t>(n));
  close(fd);
  return cmdline;
}

// The running binary's path, so that the rerun keeps its name in ps and
// the journal (exec of /proc/self/exe would name it "exe"); /proc/self/exe
// itself when the file was replaced or removed since.
std::string own_path() {
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  const std::string_view deleted = " (deleted)";
  if (n <= 0) return "/proc/self/exe";
  const std::string_view p(path, static_cast<size_t>(n));
  if (p.size() >= deleted.size() && p.substr(p.size() - deleted.size()) == deleted) return "/proc/self/exe";
  return std::string(p);
}

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
  if (!cpu.avx2_fma) return "";
  const bool fallback = std::any_of(kPreAvx2Cores.begin(), kPreAvx2Cores.end(),
                                    [&](std::string_view core) { return same_name(picked, core); });
  if (!fallback) return "";
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

std::optional<std::vector<std::string>> split_command_line(std::string_view cmdline) {
  std::vector<std::string> args;
  while (!cmdline.empty()) {
    const std::size_t end = cmdline.find('\0');
    if (end == std::string_view::npos) return std::nullopt;
    args.emplace_back(cmdline.substr(0, end));
    cmdline.remove_prefix(end + 1);
  }
  if (args.empty()) return std::nullopt;
  return args;
}

std::optional<std::string> rerun_with_fitting_openblas_core() {
  if (getenv("OPENBLAS_CORETYPE") != nullptr) return std::nullopt;
  const std::string picked = openblas_core();
  const std::string core = openblas_core_to_force(picked, cpu_vector_support());
  if (core.empty()) return std::nullopt;
  const auto args = split_command_line(read_command_line());
  if (!args) return "could not read /proc/self/cmdline to run again with OPENBLAS_CORETYPE=" + core;
  std::vector<char*> argv;
  for (const std::string& arg : *args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
  setenv(kPickedVariable, picked.c_str(), 1);
  const std::string path = own_path();
  execv(path.c_str(), argv.data());
  const int error = errno;
  unsetenv("OPENBLAS_CORETYPE");  // carry on as loaded
  unsetenv(kPickedVariable);
  return "could not run " + path + " again with OPENBLAS_CORETYPE=" + core + ": " + std::strerror(error);
}

std::string blas_summary() {
  const std::string core = openblas_core();
  if (core.empty()) return "";
  std::string summary = "OpenBLAS " + core;
  const char* picked = getenv(kPickedVariable);
  const char* asked = getenv("OPENBLAS_CORETYPE");
  if (picked == nullptr || asked == nullptr) return summary;
  if (same_name(core, asked)) return summary + " (forced by dsgw: OpenBLAS picked " + picked + ")";
  return summary + " (dsgw asked for " + asked + ": OpenBLAS did not take it)";
}

}  // namespace dsgw::local
