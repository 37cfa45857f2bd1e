#include "backends/local/tokenizer/bpe.h"

#include <algorithm>
#include <cstdio>

#include "backends/local/tokenizer/byte_level.h"

namespace dsgw::local {
namespace {

uint64_t pair_key(TokenId left, TokenId right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

uint64_t mix(uint64_t key) {
  // splitmix64's finaliser: spreads the two ids over all bits.
  key ^= key >> 30;
  key *= 0xBF58476D1CE4E5B9ULL;
  key ^= key >> 27;
  key *= 0x94D049BB133111EBULL;
  key ^= key >> 31;
  return key;
}

struct Symbol {
  TokenId id;
  int32_t prev;
  int32_t next;
  bool alive;
};

struct Candidate {
  int32_t rank;
  int32_t pos;  // index of the left symbol
  TokenId result;
};

// Min-heap order: lowest rank first, then leftmost.
bool later(const Candidate& a, const Candidate& b) {
  return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
}

}  // namespace

Result<std::unique_ptr<BpeModel>> BpeModel::create(const Spec& spec) {
  std::unique_ptr<BpeModel> model(new BpeModel());
  std::unordered_map<std::string_view, TokenId> ids;
  ids.reserve(spec.vocab.size());
  for (const auto& [token, id] : spec.vocab) ids.emplace(token, id);

  std::string spelling;
  for (int b = 0; b < 256; ++b) {
    spelling.clear();
    byte_level_encode(std::string_view(reinterpret_cast<const char*>(&b), 1), spelling);
    auto it = ids.find(spelling);
    if (it == ids.end()) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", b);
      return make_error(ErrorCode::kInvalidRequest,
                        "vocab lacks the byte-level token for byte " + std::string(hex) + " ('" +
                            spelling + "'), which a ByteLevel BPE needs");
    }
    model->byte_ids_[static_cast<size_t>(b)] = it->second;
  }

  size_t capacity = 16;
  while (capacity < spec.merges.size() * 2) capacity *= 2;
  model->merge_keys_.assign(capacity, 0);
  model->merge_values_.assign(capacity, MergeValue{});
  model->merge_mask_ = capacity - 1;
  std::string joined;
  for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
    const auto& [left, right] = spec.merges[rank];
    auto l = ids.find(left);
    auto r = ids.find(right);
    joined = left + right;
    auto m = ids.find(joined);
    if (l == ids.end() || r == ids.end() || m == ids.end()) {
      const std::string& missing = l == ids.end() ? left : r == ids.end() ? right : joined;
      return make_error(ErrorCode::kInvalidRequest, "merge " + std::to_string(rank) + " ('" + left +
                                                        "' + '" + right + "') uses '" + missing +
                                                        "', which is not in the vocab");
    }
    // A repeated pair takes its last rank, as HF tokenizers' map building does.
    model->insert_merge(l->second, r->second, MergeValue{static_cast<int32_t>(rank), m->second});
  }

  model->ignore_merges_ = spec.ignore_merges;
  if (spec.ignore_merges) {
    model->piece_ids_.reserve(spec.vocab.size());
    for (const auto& [token, id] : spec.vocab) {
      if (auto bytes = byte_level_decode(token)) model->piece_ids_.emplace(std::move(*bytes), id);
    }
  }
  for (auto& shard : model->cache_) shard.entries.reserve(kCacheEntriesPerShard);
  return model;
}

void BpeModel::insert_merge(TokenId left, TokenId right, MergeValue value) {
  const uint64_t key = pair_key(left, right);
  for (uint64_t slot = mix(key) & merge_mask_;; slot = (slot + 1) & merge_mask_) {
    if (merge_values_[slot].rank < 0 || merge_keys_[slot] == key) {
      merge_keys_[slot] = key;
      merge_values_[slot] = value;
      return;
    }
  }
}

BpeModel::MergeValue BpeModel::find_merge(TokenId left, TokenId right) const {
  const uint64_t key = pair_key(left, right);
  for (uint64_t slot = mix(key) & merge_mask_;; slot = (slot + 1) & merge_mask_) {
    const MergeValue& v = merge_values_[slot];
    if (v.rank < 0) return v;
    if (merge_keys_[slot] == key) return v;
  }
}

void BpeModel::merge_piece(std::string_view piece, std::vector<TokenId>& out) const {
  std::vector<Symbol> symbols(piece.size());
  for (size_t i = 0; i < piece.size(); ++i) {
    symbols[i] = Symbol{byte_ids_[static_cast<unsigned char>(piece[i])], static_cast<int32_t>(i) - 1,
                        i + 1 < piece.size() ? static_cast<int32_t>(i + 1) : -1, true};
  }
  std::vector<Candidate> heap;
  heap.reserve(piece.size());
  auto consider = [&](int32_t pos) {
    const Symbol& s = symbols[static_cast<size_t>(pos)];
    if (s.next < 0) return;
    const MergeValue m = find_merge(s.id, symbols[static_cast<size_t>(s.next)].id);
    if (m.rank < 0) return;
    heap.push_back(Candidate{m.rank, pos, m.result});
    std::push_heap(heap.begin(), heap.end(), later);
  };
  for (size_t i = 0; i + 1 < piece.size(); ++i) consider(static_cast<int32_t>(i));

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const Candidate c = heap.back();
    heap.pop_back();
    Symbol& left = symbols[static_cast<size_t>(c.pos)];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = symbols[static_cast<size_t>(left.next)];
    // Stale if either side changed since the candidate was queued: the pair
    // then merges into something else (or nothing).
    const MergeValue now = find_merge(left.id, right.id);
    if (now.rank != c.rank || now.result != c.result) continue;
    left.id = c.result;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = c.pos;
    if (left.prev >= 0) consider(left.prev);
    consider(c.pos);
  }
  for (int32_t i = piece.empty() ? -1 : 0; i >= 0; i = symbols[static_cast<size_t>(i)].next) {
    out.push_back(symbols[static_cast<size_t>(i)].id);
  }
}

void BpeModel::encode_piece(std::string_view piece, std::vector<TokenId>& out) const {
  if (piece.empty()) return;
  if (piece.size() == 1) {
    out.push_back(byte_ids_[static_cast<unsigned char>(piece[0])]);
    return;
  }
  if (ignore_merges_) {
    auto it = piece_ids_.find(piece);
    if (it != piece_ids_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  if (piece.size() > kMaxCachedPieceBytes) {
    merge_piece(piece, out);
    return;
  }
  CacheShard& shard = cache_[PieceHash{}(piece) % kCacheShards];
  {
    std::lock_guard lock(shard.mutex);
    auto it = shard.entries.find(piece);
    if (it != shard.entries.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t first = out.size();
  merge_piece(piece, out);
  std::vector<TokenId> ids(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
  std::lock_guard lock(shard.mutex);
  // Bounded: start over when full rather than track recency.
  if (shard.entries.size() >= kCacheEntriesPerShard) shard.entries.clear();
  shard.entries.emplace(std::string(piece), std::move(ids));
}

}  // namespace dsgw::local
