#include "backends/local/model/device.h"

#include <charconv>

namespace dsgw::local {

Result<Device> parse_device(std::string_view text) {
  if (text == "cpu") return Device{Device::Kind::kCpu, 0};
  if (text == "cuda") return Device{Device::Kind::kCuda, 0};
  constexpr std::string_view kCudaPrefix = "cuda:";
  if (text.substr(0, kCudaPrefix.size()) == kCudaPrefix) {
    std::string_view digits = text.substr(kCudaPrefix.size());
    int index = -1;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (ec == std::errc() && end == digits.data() + digits.size() && !digits.empty() && index >= 0) {
      return Device{Device::Kind::kCuda, index};
    }
  }
  return make_error(ErrorCode::kInvalidRequest,
                    "unknown device '" + std::string(text) + "' (expected cpu, cuda or cuda:N)");
}

std::string device_name(const Device& device) {
  if (!device.is_cuda()) return "cpu";
  return "cuda:" + std::to_string(device.index);
}

Result<DType> parse_dtype(std::string_view text) {
  if (text == "fp32" || text == "float32") return DType::kFloat32;
  if (text == "bf16" || text == "bfloat16") return DType::kBFloat16;
  if (text == "fp16" || text == "float16") return DType::kFloat16;
  return make_error(ErrorCode::kInvalidRequest,
                    "unknown dtype '" + std::string(text) + "' (expected fp32, bf16 or fp16)");
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return "fp32";
    case DType::kBFloat16:
      return "bf16";
    case DType::kFloat16:
      return "fp16";
  }
  return "?";
}

}  // namespace dsgw::local
