#include "backends/local/engine/engine_options.h"

#include <fstream>
#include <string>

namespace dsgw::local {
namespace {

bool cpu_has_avx512_bf16() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) == 0) return line.find(" avx512_bf16") != std::string::npos;
  }
  return false;
}

}  // namespace

DType resolve_dtype(const EngineOptions& options) {
  if (options.dtype) return *options.dtype;
  if (options.device.is_cuda()) return DType::kBFloat16;
  return cpu_has_avx512_bf16() ? DType::kBFloat16 : DType::kFloat32;
}

}  // namespace dsgw::local
