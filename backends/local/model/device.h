// Where the engine computes and in what precision. Plain types, no libtorch:
// the gateway's config code parses these without pulling in torch headers.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace dsgw::local {

// Precision of the weights in memory. On CPU activations are always fp32
// (weights bf16 are widened on the fly); on CUDA activations use this dtype.
// libtorch 1.13 on CPU has no fp16 matmul, so kFloat16 is CUDA-only.
enum class DType { kFloat32, kBFloat16, kFloat16 };

struct Device {
  enum class Kind { kCpu, kCuda };
  Kind kind = Kind::kCpu;
  int index = 0;  // CUDA ordinal

  bool is_cuda() const { return kind == Kind::kCuda; }
  friend bool operator==(const Device&, const Device&) = default;
};

// "cpu", "cuda" (= "cuda:0") or "cuda:N".
Result<Device> parse_device(std::string_view text);
std::string device_name(const Device& device);

// "fp32"/"float32", "bf16"/"bfloat16", "fp16"/"float16".
Result<DType> parse_dtype(std::string_view text);
std::string_view dtype_name(DType dtype);

}  // namespace dsgw::local
