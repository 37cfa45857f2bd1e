// Rotary position embeddings as Hugging Face's Qwen2/Llama apply them: the
// head dimension is split in halves (rotate_half), frequency i is
// theta^(-2i/d), optionally rescaled as Llama 3.1 does (rope_type "llama3").
// Internal to the engine.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "backends/local/model/model_config.h"

namespace dsgw::local {

// head_dim/2 inverse frequencies, in double, with llama3 scaling if configured.
std::vector<double> rope_inv_freq(const ModelConfig& config);

class RopeTable {
 public:
  RopeTable() = default;
  // cos/sin for positions [0, max_positions), stored [max_positions, head_dim/2].
  RopeTable(const ModelConfig& config, std::int64_t max_positions, const at::TensorOptions& options);

  std::int64_t max_positions() const { return max_positions_; }

  // cos and sin for n rows, each [n, 1, head_dim/2]: looked up once per
  // forward call, applied to every layer's q and k.
  struct Angles {
    at::Tensor cos, sin;
  };
  // Positions start, start+1, ..., start+n-1.
  Angles range(std::int64_t start, std::int64_t n) const;
  // positions: int64 [n] on the table's device.
  Angles at(const at::Tensor& positions) const;

  // x: [n, heads, head_dim], rotated in place.
  static void apply(at::Tensor& x, const Angles& angles);

 private:
  std::int64_t max_positions_ = 0;
  at::Tensor cos_, sin_;
};

}  // namespace dsgw::local
