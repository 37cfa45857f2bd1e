// Preallocated key/value cache: `slots` sequences of at most `max_tokens`
// tokens each, so a scheduler can batch sequences of different lengths. A
// slot holds whatever positions its owner wrote; the engine never clears it
// (a new sequence simply starts writing at position 0). Made by
// Transformer::make_kv_cache, which knows the model's shape, device and dtype.
// Owned by the engine thread. No libtorch in this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace dsgw::local {

class KvCache {
 public:
  struct Storage;  // the tensors; defined in kv_cache_storage.h

  explicit KvCache(std::unique_ptr<Storage> storage);
  KvCache(KvCache&&) noexcept;
  KvCache& operator=(KvCache&&) noexcept;
  ~KvCache();

  int slots() const;
  std::int64_t max_tokens() const;
  std::size_t bytes() const;  // memory reserved for keys and values

  Storage& storage() { return *storage_; }
  const Storage& storage() const { return *storage_; }

 private:
  std::unique_ptr<Storage> storage_;
};

}  // namespace dsgw::local
