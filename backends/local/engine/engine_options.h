// How the local engine runs a model: where, in what precision, and how much
// concurrent work it takes on. Plain types: the gateway's config code fills
// these without pulling in libtorch.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include "backends/local/model/device.h"

namespace dsgw::local {

struct EngineOptions {
  std::filesystem::path model_dir;
  Device device;
  // Weights in memory. nullopt = auto: bf16 on CUDA and on CPUs with
  // avx512_bf16, fp32 elsewhere.
  std::optional<DType> dtype;
  int max_batch = 8;            // sequences decoded together (KV-cache slots)
  int64_t kv_cache_mb = 1024;   // bound on KV-cache memory, all slots together
  int max_queue = 64;           // sequences waiting for a slot; more get 429
  int prefill_chunk = 256;      // prompt tokens per engine step
  int threads = 0;              // intra-op threads; 0 = every core
  int default_priority = 5;     // 0 runs first .. 9 runs last
};

// The dtype `auto` resolves to on `device`.
DType resolve_dtype(const EngineOptions& options);

}  // namespace dsgw::local
