// The fused CPU decode attention against softmax(q k^T / sqrt(d)) v in
// double, with an fp32 and a bf16 cache (the reference reads the same
// cached values), over shapes that take each of its paths: head_dim a multiple of 64,
// of 16 only, neither; 1..8 query heads per kv head and more; cache lengths
// below, at and past multiples of 16. (libtorch headers come before
// doctest's: they define glog's CHECK.)
#include "backends/local/model/decode_attention.h"

#include <ATen/ATen.h>
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

namespace dsgw::local {
namespace {

void check_attention(std::int64_t head_dim, std::int64_t kv_heads, std::int64_t group,
                     const std::vector<std::int64_t>& positions, at::ScalarType cache_dtype) {
  CAPTURE(cache_dtype);
  CAPTURE(head_dim);
  CAPTURE(kv_heads);
  CAPTURE(group);
  const std::int64_t n = static_cast<std::int64_t>(positions.size());
  const std::int64_t heads = kv_heads * group, max_tokens = 80, slots_total = n + 1;
  at::manual_seed(head_dim * 100 + group);
  at::Tensor keys = at::randn({slots_total, kv_heads, max_tokens, head_dim}).to(cache_dtype);
  at::Tensor values = at::randn({slots_total, kv_heads, max_tokens, head_dim}).to(cache_dtype);
  const at::Tensor q = at::randn({n, heads, head_dim});
  const at::Tensor k = at::randn({n, kv_heads, head_dim});
  const at::Tensor v = at::randn({n, kv_heads, head_dim});
  std::vector<int> slots;
  for (std::int64_t b = 0; b < n; ++b)
    slots.push_back(static_cast<int>(slots_total - 1 - b));  // not in row order
  at::Tensor out = at::empty({n, heads * head_dim});
  decode_attention(q, k, v, keys, values, slots, positions, out);

  for (std::int64_t b = 0; b < n; ++b) {
    CAPTURE(b);
    const std::int64_t pos = positions[static_cast<std::size_t>(b)];
    at::Tensor slot_k = keys[slots[static_cast<std::size_t>(b)]].to(at::kDouble);
    at::Tensor slot_v = values[slots[static_cast<std::size_t>(b)]].to(at::kDouble);
    // The new token's key and value went to its position (rounded as at::Tensor::to rounds).
    CHECK(at::equal(slot_k.select(1, pos), k[b].to(cache_dtype).to(at::kDouble)));
    CHECK(at::equal(slot_v.select(1, pos), v[b].to(cache_dtype).to(at::kDouble)));
    for (std::int64_t h = 0; h < heads; ++h) {
      const at::Tensor kh = slot_k[h / group].narrow(0, 0, pos + 1);  // [len, head_dim]
      const at::Tensor vh = slot_v[h / group].narrow(0, 0, pos + 1);
      const at::Tensor scores =
          at::mv(kh, q[b][h].to(at::kDouble)) / std::sqrt(static_cast<double>(head_dim));
      const at::Tensor expected = at::mv(vh.t(), at::softmax(scores, 0));
      const at::Tensor got = out[b].narrow(0, h * head_dim, head_dim).to(at::kDouble);
      CHECK(at::allclose(got, expected, 1e-5, 1e-5));
    }
  }
}

TEST_CASE("decode attention matches the reference for every path") {
  const std::vector<std::int64_t> positions = {0, 14, 15, 16, 31, 47, 79};
  for (auto cache_dtype : {at::kFloat, at::kBFloat16}) {
    for (std::int64_t head_dim : {128, 80, 16, 12}) {
      for (std::int64_t group : {1, 2, 6, 8, 9}) check_attention(head_dim, 2, group, positions, cache_dtype);
    }
  }
}

}  // namespace
}  // namespace dsgw::local
