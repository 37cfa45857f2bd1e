#include "backends/local/model/decode_attention.h"

#include <ATen/ATen.h>
#include <c10/util/BFloat16.h>

#include <algorithm>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
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

// The cache holds fp32, or bf16 (uint16_t here) when the weights are bf16:
// half the bytes to read per token, and the products still run in fp32.
inline float kv_float(float v) { return v; }
inline float kv_float(std::uint16_t v) { return std::bit_cast<float>(static_cast<std::uint32_t>(v) << 16); }

// A new key or value row into the cache, rounded as at::Tensor::to rounds.
inline void store_row(float* dst, const float* src, std::int64_t n) {
  std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float));
}
inline void store_row(std::uint16_t* dst, const float* src, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) dst[i] = c10::BFloat16(src[i]).x;
}

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
template <class K>
inline float dot(const float* q, const K* k, std::int64_t n) {
  constexpr int kLanes = 16;
  float lanes[kLanes] = {};
  std::int64_t d = 0;
  for (; d + kLanes <= n; d += kLanes) {
#pragma omp simd
    for (int j = 0; j < kLanes; ++j) lanes[j] += q[d + j] * kv_float(k[d + j]);
  }
  for (; d < n; ++d) lanes[0] += q[d] * kv_float(k[d]);
  for (int width = kLanes / 2; width >= 1; width /= 2) {
#pragma omp simd
    for (int j = 0; j < width; ++j) lanes[j] += lanes[j + width];
  }
  return lanes[0];
}

// Each of `rows` rows of `len` scores becomes its softmax, in place.
DSGW_ATTENTION_CLONES void softmax_rows(float* scores, std::int64_t rows, std::int64_t len) {
  for (std::int64_t g = 0; g < rows; ++g) {
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
}

// The `group` query heads q [group, head_dim] of one sequence over one kv
// head's first `len` cached keys and values [len, head_dim]: out [group,
// head_dim]. scores: room for group * len floats.
template <class K>
DSGW_ATTENTION_CLONES void attend_group(const float* q, const K* keys, const K* values, std::int64_t len,
                                        const Shape& s, float* scores, float* out) {
  const std::int64_t dim = s.head_dim;
  for (std::int64_t t = 0; t < len; ++t) {
    const K* k = keys + t * dim;
    for (std::int64_t g = 0; g < s.group; ++g) {
      const float* qg = q + g * dim;
      scores[g * len + t] = dot(qg, k, dim) * s.scale;
    }
  }
  softmax_rows(scores, s.group, len);
  std::fill(out, out + s.group * dim, 0.f);
  for (std::int64_t t = 0; t < len; ++t) {
    const K* v = values + t * dim;
    for (std::int64_t g = 0; g < s.group; ++g) {
      const float w = scores[g * len + t];
      float* o = out + g * dim;
#pragma omp simd
      for (std::int64_t d = 0; d < dim; ++d) o[d] += w * kv_float(v[d]);
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#define DSGW_ATTENTION_AVX512 1
// GCC 12's AVX-512 intrinsics initialise their "undefined" operands with
// themselves (`__m512 __Y = __Y;`), which -Wmaybe-uninitialized flags once
// inlined here. A false positive in the compiler's own header.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// With AVX-512, head_dim a multiple of 16 and up to 8 query heads per kv head
// (the models we run): the plain loops above spend most of their time on one
// horizontal sum per q·k (stored lanes reloaded through memory) and on
// loading and storing the output rows once per token and head; these keep
// the sums in registers and fetch the cache ahead (R1-Distill-Qwen-1.5B, 16
// streams at ~450 tokens, per step here: 65 -> 42 ms; with the softmax in
// AVX-512 and each key loaded once for all heads 30-33 ms, 22-28 ms over a
// bf16 cache).
constexpr int kAvx512MaxGroup = 8;

bool avx512_attention_fits(const Shape& s) {
  static const bool cpu = __builtin_cpu_supports("avx512f");
  return cpu && s.head_dim % 16 == 0 && s.group >= 1 && s.group <= kAvx512MaxGroup;
}

// out[j] = the sum of the lanes of v[j], for 16 vectors: a tree of block
// and lane shuffles (46 instructions instead of 16 separate reductions).
__attribute__((target("avx512f"))) inline __m512 lane_sums16(const __m512 (&v)[16]) {
  __m512 w[8], x[4], y[2];
  for (int i = 0; i < 8; ++i)  // halves of v[i] and v[i + 8]
    w[i] =
        _mm512_add_ps(_mm512_shuffle_f32x4(v[i], v[i + 8], 0x44), _mm512_shuffle_f32x4(v[i], v[i + 8], 0xEE));
  for (int i = 0; i < 4; ++i)  // quarters: blocks hold v[i], v[i + 8], v[i + 4], v[i + 12]
    x[i] =
        _mm512_add_ps(_mm512_shuffle_f32x4(w[i], w[i + 4], 0x88), _mm512_shuffle_f32x4(w[i], w[i + 4], 0xDD));
  for (int i = 0; i < 2; ++i)
    x[i] = _mm512_add_ps(_mm512_unpacklo_ps(x[i], x[i + 2]), _mm512_unpackhi_ps(x[i], x[i + 2]));
  y[0] = _mm512_add_ps(_mm512_shuffle_ps(x[0], x[1], _MM_SHUFFLE(1, 0, 1, 0)),
                       _mm512_shuffle_ps(x[0], x[1], _MM_SHUFFLE(3, 2, 3, 2)));
  // Lane j now holds the sum of v[p[j]], p = 0 2 1 3 8 10 9 11 4 6 5 7 12 14 13 15 (its own inverse).
  const __m512i order = _mm512_set_epi32(15, 13, 14, 12, 7, 5, 6, 4, 11, 9, 10, 8, 3, 1, 2, 0);
  return _mm512_permutexvar_ps(order, y[0]);
}

// Fetches a row of `n` floats ahead of its use: the hardware prefetcher stops
// at every 4 KB page (8 rows of 128 floats) and the loops here wait on memory
// (past the end of the cache slot it fetches nothing useful but cannot fault).
constexpr std::int64_t kAhead = 24;  // rows

template <class K>
inline void prefetch_row(const K* p, std::int64_t n) {
  constexpr std::int64_t kPerLine = 64 / sizeof(K);
  for (std::int64_t i = 0; i < n; i += kPerLine)
    _mm_prefetch(reinterpret_cast<const char*>(p + i), _MM_HINT_T0);
}

// 16 cache elements as fp32.
__attribute__((target("avx512f"))) inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
__attribute__((target("avx512f"))) inline __m512 load16(const std::uint16_t* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// exp_nonpositive on 16 lanes, the same steps.
__attribute__((target("avx512f"))) inline __m512 exp16_nonpositive(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.f));
  const __m512 n = _mm512_roundscale_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504f), _mm512_set1_ps(0.5f)),
                                        _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.f));
  const __m512i exponent =
      _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(p, _mm512_castsi512_ps(exponent));
}

// The lanes of t .. t + 15 that are below len.
inline __mmask16 tail_mask(std::int64_t t, std::int64_t len) {
  return t + 16 <= len ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (len - t)) - 1);
}

// softmax_rows on 16 lanes (the compiler leaves that one's loops scalar:
// a third of the attention time at 16 streams).
__attribute__((target("avx512f"))) void softmax_rows_avx512(float* scores, std::int64_t rows,
                                                            std::int64_t len) {
  for (std::int64_t g = 0; g < rows; ++g) {
    float* p = scores + g * len;
    const __m512 minus_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    __m512 max = minus_inf;
    for (std::int64_t t = 0; t < len; t += 16) {
      const __mmask16 m = tail_mask(t, len);
      max = _mm512_max_ps(max, _mm512_mask_loadu_ps(minus_inf, m, p + t));
    }
    const __m512 top = _mm512_set1_ps(_mm512_reduce_max_ps(max));
    __m512 sum = _mm512_setzero_ps();
    for (std::int64_t t = 0; t < len; t += 16) {
      const __mmask16 m = tail_mask(t, len);
      const __m512 e =
          _mm512_maskz_mov_ps(m, exp16_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, p + t), top)));
      _mm512_mask_storeu_ps(p + t, m, e);
      sum = _mm512_add_ps(sum, e);
    }
    const __m512 inv = _mm512_set1_ps(1.f / _mm512_reduce_add_ps(sum));
    for (std::int64_t t = 0; t < len; t += 16) {
      const __mmask16 m = tail_mask(t, len);
      _mm512_mask_storeu_ps(p + t, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, p + t), inv));
    }
  }
}

// attend_group for G query heads.
template <int G, class K>
__attribute__((target("avx512f"))) void attend_group_avx512(const float* q, const K* keys, const K* values,
                                                            std::int64_t len, const Shape& s, float* scores,
                                                            float* out) {
  const std::int64_t dim = s.head_dim;
  const __m512 scale = _mm512_set1_ps(s.scale);
  // Scores, 16 tokens at a time: per token and head one vector of partial
  // sums (two chains, for the FMA latency), summed across lanes together.
  for (std::int64_t t0 = 0; t0 < len; t0 += 16) {
    const int m = static_cast<int>(std::min<std::int64_t>(16, len - t0));
    __m512 part[G][16];
    for (int j = 0; j < 16; ++j) {
      for (int g = 0; g < G; ++g) part[g][j] = _mm512_setzero_ps();
    }
    for (int j = 0; j < m; ++j) {
      const K* k = keys + (t0 + j) * dim;
      prefetch_row(k + kAhead * dim, dim);
      // Each 16 dimensions of the key loaded (and widened) once for all G
      // heads; even and odd 16s in separate sums.
      __m512 acc[2][G];
      for (int g = 0; g < G; ++g) acc[0][g] = acc[1][g] = _mm512_setzero_ps();
      for (std::int64_t d = 0; d < dim; d += 16) {
        const __m512 kv = load16(k + d);
        const int half = static_cast<int>(d / 16 % 2);
        for (int g = 0; g < G; ++g)
          acc[half][g] = _mm512_fmadd_ps(_mm512_loadu_ps(q + g * dim + d), kv, acc[half][g]);
      }
      for (int g = 0; g < G; ++g) part[g][j] = _mm512_add_ps(acc[0][g], acc[1][g]);
    }
    const __mmask16 mask = static_cast<__mmask16>((1u << m) - 1);
    for (int g = 0; g < G; ++g)
      _mm512_mask_storeu_ps(scores + g * len + t0, mask, _mm512_mul_ps(lane_sums16(part[g]), scale));
  }
  softmax_rows_avx512(scores, G, len);
  // Weighted sum of the values, 64 dimensions (4 vectors per head) at a time
  // in registers, then the remaining 16s.
  std::int64_t d0 = 0;
  for (; d0 + 64 <= dim; d0 += 64) {
    __m512 acc[G][4];
    for (int g = 0; g < G; ++g) {
      for (int c = 0; c < 4; ++c) acc[g][c] = _mm512_setzero_ps();
    }
    for (std::int64_t t = 0; t < len; ++t) {
      const K* v = values + t * dim + d0;
      prefetch_row(v + kAhead * dim, 64);
      const __m512 v0 = load16(v), v1 = load16(v + 16), v2 = load16(v + 32), v3 = load16(v + 48);
      for (int g = 0; g < G; ++g) {
        const __m512 p = _mm512_set1_ps(scores[g * len + t]);
        acc[g][0] = _mm512_fmadd_ps(p, v0, acc[g][0]);
        acc[g][1] = _mm512_fmadd_ps(p, v1, acc[g][1]);
        acc[g][2] = _mm512_fmadd_ps(p, v2, acc[g][2]);
        acc[g][3] = _mm512_fmadd_ps(p, v3, acc[g][3]);
      }
    }
    for (int g = 0; g < G; ++g) {
      for (int c = 0; c < 4; ++c) _mm512_storeu_ps(out + g * dim + d0 + 16 * c, acc[g][c]);
    }
  }
  for (; d0 < dim; d0 += 16) {
    __m512 acc[G];
    for (int g = 0; g < G; ++g) acc[g] = _mm512_setzero_ps();
    for (std::int64_t t = 0; t < len; ++t) {
      const __m512 v = load16(values + t * dim + d0);
      for (int g = 0; g < G; ++g) acc[g] = _mm512_fmadd_ps(_mm512_set1_ps(scores[g * len + t]), v, acc[g]);
    }
    for (int g = 0; g < G; ++g) _mm512_storeu_ps(out + g * dim + d0, acc[g]);
  }
}

template <class K, int G = kAvx512MaxGroup>
void attend_group_fast(const float* q, const K* keys, const K* values, std::int64_t len, const Shape& s,
                       float* scores, float* out) {
  if constexpr (G > 1) {
    if (s.group < G) return attend_group_fast<K, G - 1>(q, keys, values, len, s, scores, out);
  }
  attend_group_avx512<G>(q, keys, values, len, s, scores, out);
}
#endif

}  // namespace

bool decode_attention_supported(const at::Tensor& q, const at::Tensor& keys) {
  return q.device().is_cpu() && q.scalar_type() == at::kFloat &&
         (keys.scalar_type() == at::kFloat || keys.scalar_type() == at::kBFloat16) &&
         keys.is_contiguous();  // values: allocated alike (KvCache::Storage::allocate)
}

namespace {

template <class K>
void decode_attention_typed(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, K* key_data,
                            K* value_data, std::int64_t kv_heads, std::int64_t max_tokens,
                            std::span<const int> slots, std::span<const std::int64_t> positions,
                            at::Tensor& out) {
  const at::Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
  Shape s;
  s.heads = q.size(1);
  s.head_dim = q.size(2);
  s.kv_heads = kv_heads;
  s.group = s.heads / s.kv_heads;
  s.max_tokens = max_tokens;
  s.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.head_dim)));
  const std::int64_t n = q.size(0);
  const float* q_data = qc.data_ptr<float>();
  const float* k_new = kc.data_ptr<float>();
  const float* v_new = vc.data_ptr<float>();
  float* out_data = out.data_ptr<float>();
#ifdef DSGW_ATTENTION_AVX512
  const bool fast = avx512_attention_fits(s);
#endif
  // One block per (row, kv head): it writes that row's key and value for
  // that head, then attends; no two blocks touch the same cache rows.
  parallel_blocks(n * s.kv_heads, [&](std::int64_t block) {
    thread_local std::vector<float> scores;
    const std::int64_t b = block / s.kv_heads, h = block % s.kv_heads;
    const std::size_t bi = static_cast<std::size_t>(b);
    const std::int64_t pos = positions[bi];
    const std::int64_t cache_offset = (slots[bi] * s.kv_heads + h) * s.max_tokens * s.head_dim;
    const std::int64_t new_offset = (b * s.kv_heads + h) * s.head_dim;
    store_row(key_data + cache_offset + pos * s.head_dim, k_new + new_offset, s.head_dim);
    store_row(value_data + cache_offset + pos * s.head_dim, v_new + new_offset, s.head_dim);
    const std::int64_t len = pos + 1;
    if (scores.size() < static_cast<std::size_t>(s.group * len))
      scores.resize(static_cast<std::size_t>(s.group * len));
    const std::int64_t head_offset = (b * s.heads + h * s.group) * s.head_dim;
#ifdef DSGW_ATTENTION_AVX512
    if (fast) {
      attend_group_fast(q_data + head_offset, key_data + cache_offset, value_data + cache_offset, len, s,
                        scores.data(), out_data + head_offset);
      return;
    }
#endif
    attend_group(q_data + head_offset, key_data + cache_offset, value_data + cache_offset, len, s,
                 scores.data(), out_data + head_offset);
  });
}

}  // namespace

void decode_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, at::Tensor& keys,
                      at::Tensor& values, std::span<const int> slots, std::span<const std::int64_t> positions,
                      at::Tensor& out) {
  const std::int64_t kv_heads = keys.size(1), max_tokens = keys.size(2);
  if (keys.scalar_type() == at::kBFloat16) {
    decode_attention_typed(q, k, v, reinterpret_cast<std::uint16_t*>(keys.data_ptr<at::BFloat16>()),
                           reinterpret_cast<std::uint16_t*>(values.data_ptr<at::BFloat16>()), kv_heads,
                           max_tokens, slots, positions, out);
  } else {
    decode_attention_typed(q, k, v, keys.data_ptr<float>(), values.data_ptr<float>(), kv_heads, max_tokens,
                           slots, positions, out);
  }
}

}  // namespace dsgw::local
