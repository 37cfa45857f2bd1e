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

// Output rows per tile of the kernel for many rows of x (gemv_lanes): its
// 16 accumulators.
constexpr int kLaneTileRows = 16;

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

// The AVX-512 kernel works on chunks of 32 inputs. A chunk of a weight row
// gives two fp32 vectors, halves 0 and 1, which multiply the x vectors at
// i and i + 16. fp32: the elements in order. bf16, 32 per 512-bit load: each
// 32-bit lane holds an even element in its low half and the following odd
// one in its high half; shifting left by 16 gives the even ones as fp32,
// masking the low half the odd ones, so no shuffles are needed if x is
// rearranged the same way once per call (per chunk, its 16 even then its 16
// odd elements).
template <class T, int Half>
__attribute__((target("avx512f,avx512bw"))) inline __m512 weight_half(const T* row, std::int64_t i) {
  if constexpr (sizeof(T) == 2) {
    const __m512i v = _mm512_loadu_si512(row + i);
    if constexpr (Half == 0) {
      return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
    } else {
      return _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(static_cast<int>(0xFFFF0000u))));
    }
  } else {
    return _mm512_loadu_ps(row + i + 16 * Half);
  }
}

// Sum of the 16 lanes (not _mm512_reduce_add_ps: GCC 12's trips -Wuninitialized).
__attribute__((target("avx512f,avx512bw"))) inline float hsum16(__m512 v) {
  const __m512 folded = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m256 s = _mm512_castps512_ps256(folded);
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
}

// One half of every chunk: R weight vectors, each used B times; each x vector
// used R times.
template <class T, int Half, int R, int B>
__attribute__((target("avx512f,avx512bw"))) inline void fma_half(const T* w, std::int64_t in, const float* x,
                                                                 std::int64_t x_stride, std::int64_t i,
                                                                 __m512 (&acc)[R][B]) {
  __m512 wv[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) wv[r] = weight_half<T, Half>(w + r * in, i);
#pragma GCC unroll 8
  for (int b = 0; b < B; ++b) {
    const __m512 xv = _mm512_loadu_ps(x + b * x_stride + i + 16 * Half);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r][b] = _mm512_fmadd_ps(wv[r], xv, acc[r][b]);
  }
}

// Fetches inputs [i, i + 32) of rows r of `next` (rows `in` apart) with bit r
// of `mask` set.
template <class T, int R>
__attribute__((target("avx512f,avx512bw"))) inline void prefetch_chunk(const T* next, std::int64_t in,
                                                                       std::int64_t i, unsigned mask) {
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    if ((mask >> r & 1u) == 0) continue;
#pragma GCC unroll 2
    for (std::size_t line = 0; line < 32 * sizeof(T); line += 64)
      _mm_prefetch(reinterpret_cast<const char*>(next + r * in + i) + line, _MM_HINT_T0);
  }
}

// How far ahead a one-row tile fetches its stream of W: into L1 and into
// L2. Same-process A/B runs over every batch-1 bf16 matrix of
// R1-Distill-Qwen-1.5B here, 2 threads, medians of 9-15 passes, against
// fetching the next row at the same inputs (which puts the 8960-wide down
// projection's 17.5 KB rows too far ahead for L1): 1.18x; 4 KB into L1
// alone 1.07-1.15x, 16 KB 1.06x, 32 KB 0.85x (bench/RESULTS.md). Stopping
// at the end of the tile's block of rows (past it lie rows that the other
// threads usually read): 1.03-1.04x more at bf16 batch 1-2, fp32 1.02-1.08x
// at 1-4 rows.
constexpr std::int64_t kStreamFetchL1 = 4 << 10;
constexpr std::int64_t kStreamFetchL2 = 16 << 10;

// Fetches the 32 inputs at `p` of a one-row tile's stream of W (its rows
// follow each other in memory) kStreamFetchL1 and kStreamFetchL2 ahead, short
// of `end`.
template <class T>
__attribute__((target("avx512f,avx512bw"))) inline void prefetch_stream(const T* p, const T* end) {
  const char* bytes = reinterpret_cast<const char*>(p);
  const std::int64_t left = (end - p) * static_cast<std::int64_t>(sizeof(T));  // bytes before `end`
#pragma GCC unroll 2
  for (std::int64_t line = 0; line < 32 * static_cast<std::int64_t>(sizeof(T)); line += 64) {
    if (kStreamFetchL1 + line < left) _mm_prefetch(bytes + kStreamFetchL1 + line, _MM_HINT_T0);
    if (kStreamFetchL2 + line < left) _mm_prefetch(bytes + kStreamFetchL2 + line, _MM_HINT_T1);
  }
}

// Inputs [k0, k1) of R weight rows against B rows of x (rearranged if
// bf16), added to `sums` (the tile's partial sums for those x rows).
// Meanwhile fetches weights ahead of the hardware prefetcher, which stops at
// 4 KB page borders and idles while a tile computes from L1: a one-row tile,
// if `prefetch_rows` is 1, its own stream up to `block_end`, the end of its
// block of rows (prefetch_stream); a wider tile the same inputs of the next
// tile's rows r with bit r of `prefetch_rows` set (the next R weight rows
// follow these; past the matrix's last row a fetch cannot fault).
template <class T, int R, int B>
__attribute__((target("avx512f,avx512bw"))) void tile_block(const T* rows, std::int64_t in, const float* x,
                                                            std::int64_t x_stride, std::int64_t k0,
                                                            std::int64_t k1, unsigned prefetch_rows,
                                                            const T* block_end, __m512* sums) {
  __m512 acc[R][B];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) acc[r][b] = sums[r * kGemvMaxBatch + b];
  }
  // Every row (one group of x, batch 1 among them): the mask folds away.
  const bool all_rows = prefetch_rows == (1u << R) - 1;
  for (std::int64_t i = k0; i < k1; i += 32) {
    if constexpr (R == 1) {
      if (prefetch_rows != 0) prefetch_stream(rows + i, block_end);
    } else if (all_rows) {
      prefetch_chunk<T, R>(rows + R * in, in, i, (1u << R) - 1);
    } else {
      prefetch_chunk<T, R>(rows + R * in, in, i, prefetch_rows);
    }
    fma_half<T, 0>(rows, in, x, x_stride, i, acc);
    fma_half<T, 1>(rows, in, x, x_stride, i, acc);
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) sums[r * kGemvMaxBatch + b] = acc[r][b];
  }
}

// Output rows [o, o + R) for every row of x, in a block of rows that ends at
// `block_end` (in W). The inputs go in blocks small enough that the R weight
// rows' block and every x row's block stay in L1 while the x rows pass in
// groups of up to 4 (the most whose sums fit the registers). Weights are
// fetched ahead meanwhile (tile_block): a one-row tile's stream in the first
// group's pass; with R rows, the next R weight rows, row r by group r mod
// groups: spread over the block's compute rather than all in the first
// group's pass (1-3% faster at 16 rows of x in A/B runs here: a burst of
// fetches fills the core's line fill buffers and stalls its loads).
template <class T, int R>
__attribute__((target("avx512f,avx512bw"))) void tile_avx512(const T* w, std::int64_t in, const float* x,
                                                             std::int64_t x_stride, int batch, float* y,
                                                             std::int64_t y_stride, std::int64_t o,
                                                             const T* block_end) {
  constexpr int kGroup = 4;
  const std::int64_t n32 = in / 32 * 32;
  // About 16 KB of x per block.
  const std::int64_t k_block = std::max<std::int64_t>(256, 4096 / batch / 32 * 32);
  const T* rows = w + o * in;
  __m512 sums[R * kGemvMaxBatch];
  for (int r = 0; r < R; ++r) {
    for (int b = 0; b < batch; ++b) sums[r * kGemvMaxBatch + b] = _mm512_setzero_ps();
  }
  const int groups = (batch + kGroup - 1) / kGroup;
  unsigned group_rows[kGemvMaxBatch / kGroup] = {};
  for (int r = 0; r < R; ++r) group_rows[r % groups] |= 1u << r;
  for (std::int64_t k0 = 0; k0 < n32; k0 += k_block) {
    const std::int64_t k1 = std::min(n32, k0 + k_block);
    for (int g = 0; g < batch; g += kGroup) {
      const float* xg = x + g * x_stride;
      const unsigned prefetch = group_rows[g / kGroup];
      switch (std::min(kGroup, batch - g)) {
        case 1:
          tile_block<T, R, 1>(rows, in, xg, x_stride, k0, k1, prefetch, block_end, sums + g);
          break;
        case 2:
          tile_block<T, R, 2>(rows, in, xg, x_stride, k0, k1, prefetch, block_end, sums + g);
          break;
        case 3:
          tile_block<T, R, 3>(rows, in, xg, x_stride, k0, k1, prefetch, block_end, sums + g);
          break;
        default:
          tile_block<T, R, 4>(rows, in, xg, x_stride, k0, k1, prefetch, block_end, sums + g);
          break;
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int b = 0; b < batch; ++b) y[b * y_stride + o + r] = hsum16(sums[r * kGemvMaxBatch + b]);
  }
}

// 16 floats, aligned like libtorch's tensors: loads that straddle cache
// lines cost twice.
struct alignas(64) Line {
  float v[16];
};

// A thread's copy of x rearranged for one product, kept while the row
// blocks of that product come by.
struct XCopy {
  std::vector<Line> lines;
  std::uint64_t call = 0;
  const float* source = nullptr;
  int batch = 0;

  // Whether the copy must be (re)built for `a` into lines[0, size).
  bool stale(const GemvArgs& a, std::size_t size) {
    bool fresh = a.call_id == 0 || a.call_id != call || a.x != source || batch != a.batch;
    if (lines.size() < size) {
      lines.resize(size);
      fresh = true;
    }
    call = a.call_id;
    source = a.x;
    batch = a.batch;
    return fresh;
  }
};

// x as the bf16 kernel reads it (see weight_half).
__attribute__((target("avx512f,avx512bw"))) const float* rearranged_x(const GemvArgs& a) {
  const std::int64_t n32 = a.in / 32 * 32;
  thread_local XCopy copy;
  const bool fresh = copy.stale(a, static_cast<std::size_t>(a.batch * n32 / 16));
  float* data = reinterpret_cast<float*>(copy.lines.data());  // null when n32 is 0: nothing is read
  const __m512i even_idx = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd_idx = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  for (int b = 0; b < a.batch && fresh; ++b) {
    const float* x = a.x + b * a.x_stride;
    float* out = data + b * n32;
    for (std::int64_t i = 0; i < n32; i += 32) {
      __m512 lo = _mm512_loadu_ps(x + i), hi = _mm512_loadu_ps(x + i + 16);
      _mm512_store_ps(out + i, _mm512_permutex2var_ps(lo, even_idx, hi));
      _mm512_store_ps(out + i + 16, _mm512_permutex2var_ps(lo, odd_idx, hi));
    }
  }
  return data;
}

// Up to this many rows of x (one group of tile_avx512's x rows), weight
// rows go one at a time: W is then read as one sequential stream, fetched
// ahead (prefetch_stream). Same-process A/B runs on R1-Distill-Qwen-1.5B's
// matrices here, 2 threads: bf16 one row at a time against 4-row tiles,
// both fetching the next rows at the same inputs: 1.13-1.2x at batch 1,
// 1.06-1.16x at 2-4 rows. Then the stream fetch, against that: bf16 1.18x,
// 1.13x, 1.05x, 1.02x at 1-4 rows; fp32 (before on 4-row tiles) 1.18x,
// 1.30x, 1.31x, 1.17x.
constexpr int kSingleRowMaxBatch = 4;

// Tiles of 4 weight rows (16 accumulators for 4 rows of x at a time) over
// the whole batch, so each weight is read from memory once per product.
template <class T>
void gemv_avx512(const T* w, const GemvArgs& a, std::int64_t o_begin, std::int64_t o_end) {
  constexpr int kTileRows = 4;
  const std::int64_t n32 = a.in / 32 * 32;
  const float* x = a.x;
  std::int64_t x_stride = a.x_stride;
  if constexpr (sizeof(T) == 2) {
    x = rearranged_x(a);
    x_stride = n32;
  }
  const bool tiles = a.batch > kSingleRowMaxBatch;
  const T* block_end = w + o_end * a.in;
  std::int64_t o = o_begin;
  for (; tiles && o + kTileRows <= o_end; o += kTileRows)
    tile_avx512<T, kTileRows>(w, a.in, x, x_stride, a.batch, a.y, a.y_stride, o, block_end);
  for (; o < o_end; ++o) tile_avx512<T, 1>(w, a.in, x, x_stride, a.batch, a.y, a.y_stride, o, block_end);
  if (n32 < a.in) gemv_generic(w, a, o_begin, o_end, n32, true);
}

// ---- many rows of x: the batch in the vector lanes ----------------------
//
// With 16 rows of x the kernel above re-reads (and, for bf16, re-widens)
// every weight vector once per group of 4 x rows and ends each output with
// horizontal sums. Here lane b of a vector is row b of x instead: x is
// transposed once per product (xt[i] holds x[0..15][i]), each weight is
// broadcast from memory straight into its FMA and updates all rows at once,
// and the accumulators, one vector per output row, stay in registers for
// the whole row. bf16 weights are first widened into an L1 scratch block
// (two cheap ops per 32 weights), fp32 ones are broadcast from W itself.
constexpr std::int64_t kLaneBlock = 128;  // inputs per widened block (8 KB of fp32)
// From this many rows of x on: below it the lanes that idle cost more than
// this kernel saves (A/B runs here: even at 12 rows, 1.4x faster at 16).
constexpr int kLanesMinBatch = 12;
// How many blocks ahead lane_tile fetches weights, into L2: 1,024 inputs
// (32 KB of bf16 for a tile). The best of 1-12 blocks and of the L1, L2 and
// L3 hints in A/B runs here at 16 rows of x; 15-25% faster than fetching
// one block ahead in a burst while widening.
constexpr std::int64_t kFetchAhead = 8;

// Input i of a 32-input chunk as the widened bf16 block stores it: its 16
// even inputs, then its 16 odd ones (see weight_half); fp32 keeps the order.
template <class T>
inline std::int64_t lane_input(std::int64_t i) {
  if constexpr (sizeof(T) == 2) {
    const std::int64_t p = i % 32;
    return i - p + (p < 16 ? 2 * p : 2 * (p - 16) + 1);
  } else {
    return i;
  }
}

// xt[i] = x[0..batch)[lane_input(i)], zeros in the lanes past the batch;
// built once per product and thread, like rearranged_x.
template <class T>
__attribute__((target("avx512f,avx512bw"))) const float* transposed_x(const GemvArgs& a) {
  const std::int64_t n32 = a.in / 32 * 32;
  thread_local XCopy copy;
  if (copy.stale(a, static_cast<std::size_t>(n32))) {
    const __m512i rows =
        _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                           _mm512_set1_epi32(static_cast<int>(a.x_stride)));
    const __mmask16 lanes = static_cast<__mmask16>((1u << a.batch) - 1);
    for (std::int64_t i = 0; i < n32; ++i) {
      const float* column = a.x + lane_input<T>(i);
      _mm512_store_ps(copy.lines[static_cast<std::size_t>(i)].v,
                      _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes, rows, column, 4));
    }
  }
  return reinterpret_cast<const float*>(copy.lines.data());
}

// Widens inputs [k0, k1) of kLaneTileRows bf16 rows into `block` (rows
// kLaneBlock apart, each 32-input chunk in lane_input order).
__attribute__((target("avx512f,avx512bw"))) inline void widen_block(const std::uint16_t* rows,
                                                                    std::int64_t in, std::int64_t k0,
                                                                    std::int64_t k1, float* block) {
  for (int r = 0; r < kLaneTileRows; ++r) {
    const std::uint16_t* row = rows + r * in;
    float* out = block + r * kLaneBlock - k0;
    for (std::int64_t i = k0; i < k1; i += 32) {
      _mm512_store_ps(out + i, weight_half<std::uint16_t, 0>(row, i));
      _mm512_store_ps(out + i + 16, weight_half<std::uint16_t, 1>(row, i));
    }
  }
}

// acc[r] += w[r * w_stride + i] * xt[i] for inputs [k0, k1). Meanwhile
// fetches a later block of the tile's weight rows, `fetch` (row r at
// fetch + r * fetch_stride, LinesPerRow cache lines each), one line every
// few inputs: spread over the block's FMAs, not a burst that would fill the
// core's line fill buffers and stall its loads.
template <int LinesPerRow>
__attribute__((target("avx512f,avx512bw"))) inline void lane_fmas(const float* w, std::int64_t w_stride,
                                                                  const float* xt, std::int64_t k0,
                                                                  std::int64_t k1, const char* fetch,
                                                                  std::int64_t fetch_stride,
                                                                  __m512 (&acc)[kLaneTileRows]) {
  constexpr int kEvery = static_cast<int>(kLaneBlock) / (kLaneTileRows * LinesPerRow);
  for (std::int64_t i = k0; i < k1; ++i) {
    const std::int64_t t = i - k0;
    if (t % kEvery == 0) {
      const std::int64_t line = t / kEvery;
      const char* p = fetch + line / LinesPerRow * fetch_stride + line % LinesPerRow * 64;
      _mm_prefetch(p, _MM_HINT_T1);
    }
    const __m512 xv = _mm512_load_ps(xt + i * 16);
#pragma GCC unroll 16
    for (int r = 0; r < kLaneTileRows; ++r)
      acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(w[r * w_stride + i]), xv, acc[r]);
  }
}

// Output rows [o, o + kLaneTileRows) for every row of x, inputs [0, n32).
template <class T>
__attribute__((target("avx512f,avx512bw"))) void lane_tile(const T* w, std::int64_t in, std::int64_t n32,
                                                           const float* xt, const GemvArgs& a,
                                                           std::int64_t o) {
  constexpr int kLinesPerRow = static_cast<int>(kLaneBlock * sizeof(T) / 64);
  const T* rows = w + o * in;
  __m512 acc[kLaneTileRows];
  for (auto& v : acc) v = _mm512_setzero_ps();
  for (std::int64_t k0 = 0; k0 < n32; k0 += kLaneBlock) {
    const std::int64_t k1 = std::min(n32, k0 + kLaneBlock);
    // The block kFetchAhead blocks on, in the next tile's rows past the row ends.
    const std::int64_t ahead = k0 + kFetchAhead * kLaneBlock;
    const T* fetch = ahead < n32 ? rows + ahead : rows + kLaneTileRows * in + (ahead - n32);
    const char* fetch_bytes = reinterpret_cast<const char*>(fetch);
    const std::int64_t fetch_stride = in * static_cast<std::int64_t>(sizeof(T));
    if constexpr (sizeof(T) == 2) {
      thread_local std::vector<Line> scratch(kLaneTileRows * kLaneBlock / 16);
      float* block = reinterpret_cast<float*>(scratch.data());
      widen_block(rows, in, k0, k1, block);
      lane_fmas<kLinesPerRow>(block - k0, kLaneBlock, xt, k0, k1, fetch_bytes, fetch_stride, acc);
    } else {
      lane_fmas<kLinesPerRow>(rows, in, xt, k0, k1, fetch_bytes, fetch_stride, acc);
    }
  }
  alignas(64) float lanes[kLaneTileRows][16];
  for (int r = 0; r < kLaneTileRows; ++r) _mm512_store_ps(lanes[r], acc[r]);
  for (int b = 0; b < a.batch; ++b) {
    float* y = a.y + b * a.y_stride + o;
    for (int r = 0; r < kLaneTileRows; ++r) y[r] = lanes[r][b];
  }
}

// Tiles of kLaneTileRows output rows; the rows after the last whole tile
// go through tile_avx512.
template <class T>
void gemv_lanes(const T* w, const GemvArgs& a, std::int64_t o_begin, std::int64_t o_end) {
  static_assert(kGemvMaxBatch <= 16, "one x row per lane of a 16-lane vector");
  const std::int64_t n32 = a.in / 32 * 32;
  std::int64_t o = o_begin;
  if (o + kLaneTileRows <= o_end) {
    const float* xt = transposed_x<T>(a);
    for (; o + kLaneTileRows <= o_end; o += kLaneTileRows) lane_tile(w, a.in, n32, xt, a, o);
  }
  if (o < o_end) {
    const float* x = a.x;
    std::int64_t x_stride = a.x_stride;
    if constexpr (sizeof(T) == 2) {
      x = rearranged_x(a);
      x_stride = n32;
    }
    for (; o < o_end; ++o)
      tile_avx512<T, 1>(w, a.in, x, x_stride, a.batch, a.y, a.y_stride, o, w + o_end * a.in);
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
  if (kIsa == Isa::kAvx2) return gemv_avx2<T, B>(w, a, o_begin, o_end);
  gemv_generic(w, a, o_begin, o_end, 0, false);
}

#else

template <class T, int B>
void run_fixed(const T* w, const GemvArgs& a, std::int64_t o_begin, std::int64_t o_end) {
  gemv_generic(w, a, o_begin, o_end, 0, false);
}

#endif

// AVX2 and generic: at most 4 rows of X per pass over W (the block of W is
// still in cache for the next pass).
template <class T>
void run(const T* w, const GemvArgs& args, std::int64_t o_begin, std::int64_t o_end) {
#ifdef DSGW_GEMV_X86
  if (kIsa == Isa::kAvx512) {
    if (args.batch >= kLanesMinBatch) return gemv_lanes(w, args, o_begin, o_end);
    return gemv_avx512(w, args, o_begin, o_end);
  }
#endif
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

std::int64_t gemv_block_rows(std::int64_t out, std::int64_t in, std::int64_t element_size, int threads) {
  std::int64_t block =
      std::max<std::int64_t>(1, (std::int64_t{256} << 10) / std::max<std::int64_t>(1, in * element_size));
  block = std::min(block, out / (8 * std::max(1, threads)));
  return std::max<std::int64_t>(kLaneTileRows, (block + kLaneTileRows - 1) / kLaneTileRows * kLaneTileRows);
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
