#include "backends/local/model/decode_attention.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "backends/local/model/parallel_blocks.h"

namespace dsgw::local {
namespace {

struct Shape {
  std::int64_t heads = 0;
  std::int64_t kv_heads = 0;
  std::int64_t group = 0;  // query heads per kv head
  std::int64_t head_dim = 0;
  std::int64_t max_tokens = 0;
  float scale = 1.f;  // 1 / sqrt(head_dim)
};

// Plain loops, vectorised by the compiler (omp simd) in one clone per
// instruction set, picked at load time by CPU features; the library itself is
// built for a baseline x86-64.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DSGW_ATTENTION_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DSGW_ATTENTION_CLONES
#endif

// e^x for x <= 0 (softmax after subtracting the maximum), within a few ulp:
// Cephes' expf in plain arithmetic, so that the loops calling it vectorise
// (std::exp does not).
inline float exp_nonpositive(float x) {
  x = std::max(x, -87.f);  // e^-87 is about the smallest normal float
  const float n = std::floor(x * 1.44269504f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;  // x - n ln 2, ln 2 in two parts
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  return p * std::bit_cast<float>((static_cast<std::int32_t>(n) + 127) << 23);
}

// q · k over n elements: 16 partial sums (one vector register), then a tree,
// which the compiler turns into a few shuffles instead of 16 serial adds.
inline float dot(const float* q, const float* k, std::int64_t n) {
  constexpr int kLanes = 16;
  float lanes[kLanes] = {};
  std::int64_t d = 0;
  for (; d + kLanes <= n; d += kLanes) {
#pragma omp simd
    for (int j = 0; j < kLanes; ++j) lanes[j] += q[d + j] * k[d + j];
  }
  for (; d < n; ++d) lanes[0] += q[d] * k[d];
  for (int width = kLanes / 2; width >= 1; width /= 2) {
#pragma omp simd
    for (int j = 0; j < width; ++j) lanes[j] += lanes[j + width];
  }
  return lanes[0];
}

// The `group` query heads q [group, head_dim] of one sequence over one kv
// head's first `len` cached keys and values [len, head_dim]: out [group,
// head_dim]. scores: room for group * len floats.
DSGW_ATTENTION_CLONES void attend_group(const float* q, const float* keys, const float* values, std::int64_t len,
                                        const Shape& s, float* scores, float* out) {
  const std::int64_t dim = s.head_dim;
  for (std::int64_t t = 0; t < len; ++t) {
    const float* k = keys + t * dim;
    for (std::int64_t g = 0; g < s.group; ++g) {
      const float* qg = q + g * dim;
      scores[g * len + t] = dot(qg, k, dim) * s.scale;
    }
  }
  for (std::int64_t g = 0; g < s.group; ++g) {
    float* p = scores + g * len;
    float max = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : max)
    for (std::int64_t t = 0; t < len; ++t) max = std::max(max, p[t]);
    float sum = 0.f;
#pragma omp simd reduction(+ : sum)
    for (std::int64_t t = 0; t < len; ++t) {
      p[t] = exp_nonpositive(p[t] - max);
      sum += p[t];
    }
    const float inv = 1.f / sum;
#pragma omp simd
    for (std::int64_t t = 0; t < len; ++t) p[t] *= inv;
  }
  std::fill(out, out + s.group * dim, 0.f);
  for (std::int64_t t = 0; t < len; ++t) {
    const float* v = values + t * dim;
    for (std::int64_t g = 0; g < s.group; ++g) {
      const float w = scores[g * len + t];
      float* o = out + g * dim;
#pragma omp simd
      for (std::int64_t d = 0; d < dim; ++d) o[d] += w * v[d];
    }
  }
}

}  // namespace

bool decode_attention_supported(const at::Tensor& q, const at::Tensor& keys) {
  return q.device().is_cpu() && q.scalar_type() == at::kFloat && keys.scalar_type() == at::kFloat &&
         keys.is_contiguous();  // values: allocated alike (KvCache::Storage::allocate)
}

void decode_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, at::Tensor& keys,
                      at::Tensor& values, std::span<const int> slots, std::span<const std::int64_t> positions,
                      at::Tensor& out) {
  const at::Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
  Shape s;
  s.heads = q.size(1);
  s.head_dim = q.size(2);
  s.kv_heads = keys.size(1);
  s.group = s.heads / s.kv_heads;
  s.max_tokens = keys.size(2);
  s.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.head_dim)));
  const std::int64_t n = q.size(0);
  const float* q_data = qc.data_ptr<float>();
  const float* k_new = kc.data_ptr<float>();
  const float* v_new = vc.data_ptr<float>();
  float* key_data = keys.data_ptr<float>();
  float* value_data = values.data_ptr<float>();
  float* out_data = out.data_ptr<float>();
  // One block per (row, kv head): it writes that row's key and value for
  // that head, then attends; no two blocks touch the same cache rows.
  parallel_blocks(n * s.kv_heads, [&](std::int64_t block) {
    thread_local std::vector<float> scores;
    const std::int64_t b = block / s.kv_heads, h = block % s.kv_heads;
    const std::size_t bi = static_cast<std::size_t>(b);
    const std::int64_t pos = positions[bi];
    const std::int64_t cache_offset = (slots[bi] * s.kv_heads + h) * s.max_tokens * s.head_dim;
    const std::int64_t new_offset = (b * s.kv_heads + h) * s.head_dim;
    const std::size_t row_bytes = static_cast<std::size_t>(s.head_dim) * sizeof(float);
    std::memcpy(key_data + cache_offset + pos * s.head_dim, k_new + new_offset, row_bytes);
    std::memcpy(value_data + cache_offset + pos * s.head_dim, v_new + new_offset, row_bytes);
    const std::int64_t len = pos + 1;
    if (scores.size() < static_cast<std::size_t>(s.group * len)) scores.resize(static_cast<std::size_t>(s.group * len));
    const std::int64_t head_offset = (b * s.heads + h * s.group) * s.head_dim;
    attend_group(q_data + head_offset, key_data + cache_offset, value_data + cache_offset, len, s, scores.data(),
                 out_data + head_offset);
  });
}

}  // namespace dsgw::local
