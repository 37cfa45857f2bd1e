// A Qwen2 / Llama decoder stack loaded from a Hugging Face model directory,
// with a llama2.c-sized interface: load, make a KV cache, prefill a slot,
// decode a batch of slots one token each. Logits come back as fp32 host
// memory owned by the Transformer, valid until its next call.
//
// Threading: one thread (the engine thread) owns a Transformer and its
// KvCaches; nothing here is thread-safe. Loading sets libtorch's intra-op
// thread count, which is process-wide. No libtorch in this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "backends/local/model/device.h"
#include "backends/local/model/kv_cache.h"
#include "backends/local/model/model_config.h"
#include "common/status.h"

namespace dsgw::local {

struct LoadOptions {
  Device device;                  // cpu or cuda:N
  DType dtype = DType::kFloat32;  // weights in memory (fp16 only on CUDA)
  bool verify_checksums = true;   // check SHA384SUMS when the directory has one
  int threads = 0;                // intra-op threads; 0: every core
  std::int64_t max_context = 0;   // positions supported; 0: min(max_position_embeddings, 32768)
  int prefill_chunk = 256;        // tokens per prefill step
};

struct MemoryUsage {
  std::size_t weight_bytes = 0;            // all weights held
  std::size_t mapped_weight_bytes = 0;     // of which views of the mapped files (page cache)
  std::size_t mapped_huge_page_bytes = 0;  // of those, on 2 MB pages at load (MappedFile::huge_page_bytes)
  std::size_t kv_cache_bytes = 0;
  std::optional<std::size_t> cuda_max_allocated_bytes;  // torch's peak, CUDA only
};

class Transformer {
 public:
  // Reads DIR/config.json, verifies DIR/SHA384SUMS if present, maps the
  // safetensors (single file or via model.safetensors.index.json) and checks
  // every tensor. Errors name the file and the tensor.
  static Result<Transformer> load(const std::filesystem::path& dir, const LoadOptions& options = {});

  Transformer(Transformer&&) noexcept;
  Transformer& operator=(Transformer&&) noexcept;
  ~Transformer();

  const ModelConfig& config() const;
  std::int64_t vocab_size() const;   // logits per row
  std::int64_t max_context() const;  // largest position + 1 supported
  std::string describe() const;      // one line for the log

  Result<KvCache> make_kv_cache(int slots, std::int64_t max_tokens) const;

  // Runs `tokens` at positions [start_pos, start_pos + n) of `slot` (chunked
  // by the prefill chunk size), writing their keys and values, and returns the
  // logits of the last one: vocab_size() floats. Positions before start_pos
  // must hold this sequence's earlier tokens.
  Result<std::span<const float>> forward(KvCache& cache, int slot, std::span<const std::int32_t> tokens,
                                         std::int64_t start_pos);

  // One new token for each of several sequences, each in its own slot at its
  // own position. Returns [batch, vocab_size()] logits, row i for slots[i].
  Result<std::span<const float>> decode(KvCache& cache, std::span<const int> slots,
                                        std::span<const std::int32_t> tokens,
                                        std::span<const std::int64_t> positions);

  void set_prefill_chunk(int tokens);
  int prefill_chunk() const;
  // Largest attention-score temporary (elements, default 16M): longer
  // prefills take their queries in row blocks. Tuning and tests.
  void set_attention_block(std::int64_t scores);

  MemoryUsage memory_usage(const KvCache* cache = nullptr) const;

  struct Impl;

 private:
  explicit Transformer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dsgw::local
