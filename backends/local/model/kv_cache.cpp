#include "backends/local/model/kv_cache.h"

#include <ATen/ATen.h>

#include "backends/local/model/kv_cache_storage.h"

namespace dsgw::local {

KvCache::Storage KvCache::Storage::allocate(const ModelConfig& config, int slots, std::int64_t max_tokens,
                                            const at::TensorOptions& options) {
  Storage s;
  s.slots = slots;
  s.max_tokens = max_tokens;
  for (std::int64_t l = 0; l < config.num_layers; ++l) {
    // Uninitialised on purpose: only positions a sequence wrote are read.
    s.keys.push_back(at::empty({slots, config.num_kv_heads, max_tokens, config.head_dim}, options));
    s.values.push_back(at::empty({slots, config.num_kv_heads, max_tokens, config.head_dim}, options));
    s.bytes += 2 * static_cast<std::size_t>(s.keys.back().numel()) * s.keys.back().element_size();
  }
  return s;
}

KvCache::KvCache(std::unique_ptr<Storage> storage) : storage_(std::move(storage)) {}
KvCache::KvCache(KvCache&&) noexcept = default;
KvCache& KvCache::operator=(KvCache&&) noexcept = default;
KvCache::~KvCache() = default;

int KvCache::slots() const { return storage_->slots; }
std::int64_t KvCache::max_tokens() const { return storage_->max_tokens; }
std::size_t KvCache::bytes() const { return storage_->bytes; }

}  // namespace dsgw::local
