// The tensors behind KvCache. Internal to the engine (includes ATen).
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "backends/local/model/kv_cache.h"
#include "backends/local/model/model_config.h"

namespace dsgw::local {

struct KvCache::Storage {
  // Per layer: [slots, kv_heads, max_tokens, head_dim], so one slot's keys for
  // one head are contiguous rows and a prefix of them is a strided view.
  std::vector<at::Tensor> keys;
  std::vector<at::Tensor> values;
  int slots = 0;
  std::int64_t max_tokens = 0;
  std::size_t bytes = 0;

  static Storage allocate(const ModelConfig& config, int slots, std::int64_t max_tokens,
                          const at::TensorOptions& options);
};

}  // namespace dsgw::local
