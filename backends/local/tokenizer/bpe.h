// Byte-level BPE: turns the bytes of one pre-tokenized piece into token ids by
// applying merges lowest rank first (leftmost first among equal ranks), as HF
// tokenizers' BPE model does. A linked list of symbols plus a priority queue
// of candidate merges keeps long pieces O(n log n); a bounded cache of recent
// pieces makes the common case one hash look-up.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"

namespace dsgw::local {

using TokenId = int32_t;

class BpeModel {
 public:
  struct Spec {
    // Vocabulary entries as spelt in tokenizer.json (byte-level alphabet).
    std::vector<std::pair<std::string, TokenId>> vocab;
    // Merges in rank order, each a pair of vocabulary entries.
    std::vector<std::pair<std::string, std::string>> merges;
    // HF's ignore_merges (Llama-3): a piece that is itself in the vocabulary
    // is emitted as that token without applying merges.
    bool ignore_merges = false;
  };

  // Validates the spec: every merge's parts and result must be in the
  // vocabulary, and so must the 256 single-byte tokens. Errors say which
  // entry is wrong; the caller adds the file name.
  static Result<std::unique_ptr<BpeModel>> create(const Spec& spec);

  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;

  // Appends the ids for `piece` (raw bytes, not byte-level spelt). Thread-safe.
  void encode_piece(std::string_view piece, std::vector<TokenId>& out) const;

  // The uncached merge loop, for tests and benchmarks.
  void merge_piece(std::string_view piece, std::vector<TokenId>& out) const;

 private:
  BpeModel() = default;

  struct MergeValue {
    int32_t rank = -1;  // -1: empty slot
    TokenId result = 0;
  };

  // Open-addressing table of (left, right) -> merge.
  MergeValue find_merge(TokenId left, TokenId right) const;
  void insert_merge(TokenId left, TokenId right, MergeValue value);

  // Transparent hashing, so look-ups by string_view do not allocate.
  struct PieceHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using PieceMap = std::unordered_map<std::string, TokenId, PieceHash, std::equal_to<>>;

  static constexpr size_t kCacheShards = 8;
  static constexpr size_t kCacheEntriesPerShard = 8192;
  static constexpr size_t kMaxCachedPieceBytes = 256;
  struct CacheShard {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<TokenId>, PieceHash, std::equal_to<>> entries;
  };

  std::array<TokenId, 256> byte_ids_{};
  std::vector<uint64_t> merge_keys_;
  std::vector<MergeValue> merge_values_;
  uint64_t merge_mask_ = 0;
  bool ignore_merges_ = false;
  PieceMap piece_ids_;  // raw bytes -> id, for ignore_merges
  mutable std::array<CacheShard, kCacheShards> cache_;
};

}  // namespace dsgw::local
