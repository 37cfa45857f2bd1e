#include "backends/local/model/gemv.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string_view>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DSGW_GEMV_X86 1
// GCC 12's AVX-512 intrinsics initialise their "undefined" operands with
// themselves (`__m512i __Y = __Y;`), which -Wmaybe-uninitialized flags once
// inlined here. A false positive in the compiler's own header.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace dsgw::local {
namespace {

inline float bf16_to_float(std::uint16_t v) {
  std::uint32_t bits = static_cast<std::uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

template <class T>
inline float load_scalar(const T* p, std::int64_t i) {
  if constexpr (sizeof(T) == 2) {
    return bf16_to_float(p[i]);
  } else {
    return p[i];
  }
}

// Portable version, also the tail of the vector versions.
template <class T>
void gemv_generic(const T* w, const GemvArgs& a, std::int64_t o_begin, std::int64_t o_end,
                  std::int64_t i_begin, bool accumulate) {
  for (std::int64_t o = o_begin; o < o_end; ++o) {
    const T* row = w + o * a.in;
    for (int b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      float acc = 0.f;
      for (std::int64_t i = i_begin; i < a.in; ++i) acc += load_scalar(row, i) * x[i];
      float* y = a.y + b * a.y_stride + o;
      *y = accumulate ? *y + acc : acc;
    }
  }
}

#ifdef DSGW_GEMV_X86

// Software prefetch distance on each bf16 weight row: ahead of the hardware
// prefetcher, which stops at 4 KB page borders (the weights are a file
// mapping in 4 KB pages). On a busy 2-core Xeon it gave bf16 about +14% and
// fp32 nothing, so only the bf16 kernel prefetches.
constexpr int kPrefetchBytes = 1024;

template <class T>
__attribute__((target("avx512f,avx512bw"))) inline __m512 load16(const T* p) {
  if constexpr (sizeof(T) == 2) {
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  } else {
    return _mm512_loadu_ps(p);
  }
}

// Two output rows at a time, `B` rows of X: each weight vector is loaded once
// and used B times; each X vector is loaded once per two weight rows.
template <class T, int B>
__attribute__((target("avx512f,avx512bw"))) void gemv_avx512(const T* w, const GemvArgs& a,
                                                             std::int64_t o_begin, std::int64_t o_end) {
  const std::int64_t n16 = a.in / 16 * 16;
  std::int64_t o = o_begin;
  for (; o + 2 <= o_end; o += 2) {
    const T* r0 = w + o * a.in;
    const T* r1 = r0 + a.in;
    __m512 acc0[B], acc1[B];
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) acc0[b] = acc1[b] = _mm512_setzero_ps();
    for (std::int64_t i = 0; i < n16; i += 16) {
      __m512 w0 = load16(r0 + i);
      __m512 w1 = load16(r1 + i);
#pragma GCC unroll 8
      for (int b = 0; b < B; ++b) {
        __m512 xv = _mm512_loadu_ps(a.x + b * a.x_stride + i);
        acc0[b] = _mm512_fmadd_ps(w0, xv, acc0[b]);
        acc1[b] = _mm512_fmadd_ps(w1, xv, acc1[b]);
      }
    }
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) {
      a.y[b * a.y_stride + o] = _mm512_reduce_add_ps(acc0[b]);
      a.y[b * a.y_stride + o + 1] = _mm512_reduce_add_ps(acc1[b]);
    }
  }
  for (; o < o_end; ++o) {
    const T* r0 = w + o * a.in;
    __m512 acc0[B];
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) acc0[b] = _mm512_setzero_ps();
    for (std::int64_t i = 0; i < n16; i += 16) {
      __m512 w0 = load16(r0 + i);
#pragma GCC unroll 8
      for (int b = 0; b < B; ++b)
        acc0[b] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(a.x + b * a.x_stride + i), acc0[b]);
    }
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) a.y[b * a.y_stride + o] = _mm512_reduce_add_ps(acc0[b]);
  }
  if (n16 < a.in) gemv_generic(w, a, o_begin, o_end, n16, true);
}

// bf16 weights, 32 per 512-bit load: each 32-bit lane holds an even element
// in its low half and the following odd one in its high half. Shifting left
// by 16 gives the even ones as fp32, masking the low half the odd ones, so no
// shuffles are needed if x is rearranged the same way once per call:
// per 32-element block, its 16 even then its 16 odd elements.
__attribute__((target("avx512f,avx512bw"))) inline __m512 widen_even(__m512i v) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

template <int B>
__attribute__((target("avx512f,avx512bw"))) void gemv_avx512_bf16(const std::uint16_t* w, const GemvArgs& a,
                                                                  std::int64_t o_begin, std::int64_t o_end) {
  const std::int64_t n32 = a.in / 32 * 32;
  thread_local std::vector<float> xs;
  thread_local std::uint64_t xs_call = 0;
  thread_local const float* xs_source = nullptr;
  thread_local int xs_batch = 0;
  bool fresh = a.call_id == 0 || a.call_id != xs_call || a.x != xs_source || xs_batch != B;
  if (xs.size() < static_cast<std::size_t>(B * n32)) {
    xs.resize(static_cast<std::size_t>(B * n32));
    fresh = true;
  }
  xs_call = a.call_id;
  xs_source = a.x;
  xs_batch = B;
  const __m512i even_idx = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd_idx = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  for (int b = 0; b < B && fresh; ++b) {
    const float* x = a.x + b * a.x_stride;
    float* out = xs.data() + b * n32;
    for (std::int64_t i = 0; i < n32; i += 32) {
      __m512 lo = _mm512_loadu_ps(x + i), hi = _mm512_loadu_ps(x + i + 16);
      _mm512_storeu_ps(out + i, _mm512_permutex2var_ps(lo, even_idx, hi));
      _mm512_storeu_ps(out + i + 16, _mm512_permutex2var_ps(lo, odd_idx, hi));
    }
  }
  const __m512i high_half = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  std::int64_t o = o_begin;
  for (; o + 2 <= o_end; o += 2) {
    const std::uint16_t* r0 = w + o * a.in;
    const std::uint16_t* r1 = r0 + a.in;
    __m512 acc0[B], acc1[B];
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) acc0[b] = acc1[b] = _mm512_setzero_ps();
    for (std::int64_t i = 0; i < n32; i += 32) {
      _mm_prefetch(reinterpret_cast<const char*>(r0 + i) + kPrefetchBytes, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(r1 + i) + kPrefetchBytes, _MM_HINT_T0);
      const __m512i v0 = _mm512_loadu_si512(r0 + i);
      const __m512i v1 = _mm512_loadu_si512(r1 + i);
      const __m512 e0 = widen_even(v0), d0 = _mm512_castsi512_ps(_mm512_and_si512(v0, high_half));
      const __m512 e1 = widen_even(v1), d1 = _mm512_castsi512_ps(_mm512_and_si512(v1, high_half));
#pragma GCC unroll 8
      for (int b = 0; b < B; ++b) {
        const __m512 xe = _mm512_loadu_ps(xs.data() + b * n32 + i);
        const __m512 xo = _mm512_loadu_ps(xs.data() + b * n32 + i + 16);
        acc0[b] = _mm512_fmadd_ps(d0, xo, _mm512_fmadd_ps(e0, xe, acc0[b]));
        acc1[b] = _mm512_fmadd_ps(d1, xo, _mm512_fmadd_ps(e1, xe, acc1[b]));
      }
    }
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) {
      a.y[b * a.y_stride + o] = _mm512_reduce_add_ps(acc0[b]);
      a.y[b * a.y_stride + o + 1] = _mm512_reduce_add_ps(acc1[b]);
    }
  }
  for (; o < o_end; ++o) {
    const std::uint16_t* r0 = w + o * a.in;
    __m512 acc0[B];
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) acc0[b] = _mm512_setzero_ps();
    for (std::int64_t i = 0; i < n32; i += 32) {
      const __m512i v0 = _mm512_loadu_si512(r0 + i);
      const __m512 e0 = widen_even(v0), d0 = _mm512_castsi512_ps(_mm512_and_si512(v0, high_half));
#pragma GCC unroll 8
      for (int b = 0; b < B; ++b) {
        acc0[b] = _mm512_fmadd_ps(d0, _mm512_loadu_ps(xs.data() + b * n32 + i + 16),
                                  _mm512_fmadd_ps(e0, _mm512_loadu_ps(xs.data() + b * n32 + i), acc0[b]));
      }
    }
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) a.y[b * a.y_stride + o] = _mm512_reduce_add_ps(acc0[b]);
  }
  if (n32 < a.in) gemv_generic(w, a, o_begin, o_end, n32, true);
}

template <class T>
__attribute__((target("avx2,fma"))) inline __m256 load8(const T* p) {
  if constexpr (sizeof(T) == 2) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  } else {
    return _mm256_loadu_ps(p);
  }
}

__attribute__((target("avx2,fma"))) inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <class T, int B>
__attribute__((target("avx2,fma"))) void gemv_avx2(const T* w, const GemvArgs& a, std::int64_t o_begin,
                                                   std::int64_t o_end) {
  const std::int64_t n8 = a.in / 8 * 8;
  for (std::int64_t o = o_begin; o < o_end; ++o) {
    const T* r0 = w + o * a.in;
    __m256 acc[B];
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) acc[b] = _mm256_setzero_ps();
    for (std::int64_t i = 0; i < n8; i += 8) {
      __m256 w0 = load8(r0 + i);
#pragma GCC unroll 8
      for (int b = 0; b < B; ++b)
        acc[b] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(a.x + b * a.x_stride + i), acc[b]);
    }
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) a.y[b * a.y_stride + o] = hsum8(acc[b]);
  }
  if (n8 < a.in) gemv_generic(w, a, o_begin, o_end, n8, true);
}

enum class Isa { kGeneric, kAvx2, kAvx512 };

Isa detect() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) return Isa::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
  return Isa::kGeneric;
}

const Isa kDetected = detect();
Isa kIsa = kDetected;

template <class T, int B>
void run_fixed(const T* w, const GemvArgs& a, std::int64_t o_begin, std::int64_t o_end) {
  if (kIsa == Isa::kAvx512) {
    if constexpr (sizeof(T) == 2) {
      return gemv_avx512_bf16<B>(w, a, o_begin, o_end);
    } else {
      return gemv_avx512<T, B>(w, a, o_begin, o_end);
    }
  }
  if (kIsa == Isa::kAvx2) return gemv_avx2<T, B>(w, a, o_begin, o_end);
  gemv_generic(w, a, o_begin, o_end, 0, false);
}

#else

template <class T, int B>
void run_fixed(const T* w, const GemvArgs& a, std::int64_t o_begin, std::int64_t o_end) {
  gemv_generic(w, a, o_begin, o_end, 0, false);
}

#endif

// At most 4 rows of X per pass over W: with more, the accumulators and the
// rearranged X no longer fit registers and L1, and the kernels slow down more
// than reading W twice costs.
template <class T>
void run(const T* w, const GemvArgs& args, std::int64_t o_begin, std::int64_t o_end) {
  for (int r = 0; r < args.batch; r += 4) {
    GemvArgs a = args;
    a.batch = std::min(4, args.batch - r);
    a.x = args.x + r * args.x_stride;
    a.y = args.y + r * args.y_stride;
    switch (a.batch) {
      case 1:
        run_fixed<T, 1>(w, a, o_begin, o_end);
        break;
      case 2:
        run_fixed<T, 2>(w, a, o_begin, o_end);
        break;
      case 3:
        run_fixed<T, 3>(w, a, o_begin, o_end);
        break;
      default:
        run_fixed<T, 4>(w, a, o_begin, o_end);
        break;
    }
  }
}

}  // namespace

std::uint64_t next_gemv_call_id() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

void gemv_rows(const GemvArgs& a, std::int64_t o_begin, std::int64_t o_end) {
  if (a.bf16) {
    run(static_cast<const std::uint16_t*>(a.w), a, o_begin, o_end);
  } else {
    run(static_cast<const float*>(a.w), a, o_begin, o_end);
  }
}

bool gemv_use_kernel(const char* name) {
  const std::string_view n(name);
#ifdef DSGW_GEMV_X86
  if (n == "avx512" && kDetected == Isa::kAvx512)
    kIsa = Isa::kAvx512;
  else if (n == "avx2" && kDetected != Isa::kGeneric)
    kIsa = Isa::kAvx2;
  else if (n == "generic")
    kIsa = Isa::kGeneric;
  else
    return false;
  return true;
#else
  return n == "generic";
#endif
}

const char* gemv_kernel_name() {
#ifdef DSGW_GEMV_X86
  switch (kIsa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kGeneric:
      break;
  }
#endif
  return "generic";
}

}  // namespace dsgw::local
