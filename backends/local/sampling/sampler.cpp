#include "backends/local/sampling/sampler.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <random>

namespace dsgw::local {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t random_seed() {
  std::random_device device;
  uint64_t seed = (static_cast<uint64_t>(device()) << 32) ^ device();
  seed ^= static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return seed;
}

// `value` if it is a number at least `lo`, else `lo` (NaN included).
double at_least(double value, double lo) { return value >= lo ? value : lo; }

double finite_or_zero(std::optional<double> value) { return value && std::isfinite(*value) ? *value : 0.0; }

// e^-x for x in [0, 32]: 2^k * e^y with k = round(-x log2 e), |y| <= ln2 / 2,
// e^y by its Taylor series to y^6 (truncation < 1.2e-7). Plain float
// arithmetic the compiler vectorises, and the same result on every platform.
inline float exp_neg(float x) {
  const float t = -x * 1.44269504088896341f;
  const float k = (t + 12582912.0f) - 12582912.0f;  // round to nearest (|t| < 2^22)
  const float y = (t - k) * 0.693147180559945309f;
  float q = 1.0f / 720.0f;
  q = q * y + 1.0f / 120.0f;
  q = q * y + 1.0f / 24.0f;
  q = q * y + 1.0f / 6.0f;
  q = q * y + 0.5f;
  q = q * y + 1.0f;
  q = q * y + 1.0f;
  const int32_t bits = (static_cast<int32_t>(k) + 127) << 23;  // k in [-47, 0]: a normal float
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return q * scale;
}

// Work goes in chunks of 16 tokens.
constexpr size_t kChunk = 16;

// Largest of a chunk, NaN ignored (-inf if all are NaN).
inline float chunk_max(const float* p) {
  float m[4] = {-kInf, -kInf, -kInf, -kInf};
  for (size_t r = 0; r < kChunk; r += 4) {
    for (size_t j = 0; j < 4; ++j) m[j] = p[r + j] > m[j] ? p[r + j] : m[j];
  }
  const float a = m[0] > m[1] ? m[0] : m[1];
  const float b = m[2] > m[3] ? m[2] : m[3];
  return a > b ? a : b;
}

// Largest value, NaN ignored (-inf if there is none).
float max_of(const float* l, size_t n) {
  float acc[kChunk];
  std::fill(std::begin(acc), std::end(acc), -kInf);
  size_t i = 0;
  for (; i + kChunk <= n; i += kChunk) {
    for (size_t j = 0; j < kChunk; ++j) acc[j] = l[i + j] > acc[j] ? l[i + j] : acc[j];
  }
  for (; i < n; ++i) acc[0] = l[i] > acc[0] ? l[i] : acc[0];
  return chunk_max(acc);
}

// First index of the largest value; 0 if every value is NaN.
int32_t argmax(const float* l, size_t n) {
  const float best = max_of(l, n);
  size_t i = 0;
  for (; i + kChunk <= n; i += kChunk) {
    if (chunk_max(l + i) != best) continue;
    for (size_t j = i; j < i + kChunk; ++j) {  // (not found: an all-NaN chunk, best = -inf)
      if (l[j] == best) return static_cast<int32_t>(j);
    }
  }
  for (; i < n; ++i) {
    if (l[i] == best) return static_cast<int32_t>(i);
  }
  return 0;
}

// Sum of a chunk in a fixed order: total() and Sampler::pick() add the same
// chunk sums, so a draw below the total always lands on a token.
inline double chunk_sum(const float* p) {
  float s[4];
  for (size_t j = 0; j < 4; ++j) s[j] = (p[j] + p[j + 4]) + (p[j + 8] + p[j + 12]);
  return static_cast<double>((s[0] + s[1]) + (s[2] + s[3]));
}

double total(const float* p, size_t n) {
  double sum = 0.0;
  size_t i = 0;
  for (; i + kChunk <= n; i += kChunk) sum += chunk_sum(p + i);
  for (; i < n; ++i) sum += p[i];
  return sum;
}

// exp(-d) with d = (best - l) / T, or 0 for d >= kRange (and NaN).
inline float exp_in_range(float l, float best, float inv_t) {
  const float d = (best - l) * inv_t;
  const bool in = d < Sampler::kRange;
  const float e = exp_neg(in ? d : Sampler::kRange);  // branch-free, so it vectorises
  return in ? e : 0.0f;
}

// exp_in_range() over `chunks` whole chunks into p, each chunk's largest into
// tops; returns the sum. Chunks wholly out of range are only zeroed.
double exp_chunks(const float* l, size_t chunks, float best, float inv_t, float* p, float* tops) {
  double sum = 0.0;
  for (size_t c = 0; c < chunks; ++c, l += kChunk, p += kChunk) {
    // d falls as l rises: a chunk whose largest logit is out is all out.
    if (!((best - chunk_max(l)) * inv_t < Sampler::kRange)) {
      std::fill(p, p + kChunk, 0.0f);
      tops[c] = 0.0f;
      continue;
    }
    for (size_t j = 0; j < kChunk; ++j) p[j] = exp_in_range(l[j], best, inv_t);
    sum += chunk_sum(p);
    tops[c] = chunk_max(p);
  }
  return sum;
}

}  // namespace

Rng::Rng(uint64_t seed) {
  for (uint64_t& word : s_) word = splitmix64(seed);
}

uint64_t Rng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

Sampler::Sampler(const router::SamplingParams& params, int32_t vocab_limit)
    : temperature_(at_least(params.temperature.value_or(kDefaultTemperature), 0.0)),
      top_p_(std::min(at_least(params.top_p.value_or(kDefaultTopP), 0.0), 1.0)),
      top_k_(std::max(params.top_k.value_or(0), 0)),
      presence_(finite_or_zero(params.presence_penalty)),
      frequency_(finite_or_zero(params.frequency_penalty)),
      vocab_limit_(vocab_limit),
      seed_(params.seed ? static_cast<uint64_t>(*params.seed) : random_seed()),
      rng_(seed_) {
  assert(vocab_limit > 0);
  if (temperature_ < kMinTemperature) temperature_ = 0.0;  // 1/T must stay finite
}

void Sampler::accept(int32_t token) {
  if (presence_ == 0.0 && frequency_ == 0.0) return;
  if (token < 0 || token >= vocab_limit_) return;
  ++counts_[token];
}

const float* Sampler::penalized(std::span<const float> logits, size_t n) {
  if (counts_.empty()) return logits.data();
  work_.assign(logits.begin(), logits.begin() + static_cast<ptrdiff_t>(n));
  for (const auto& [token, count] : counts_) {
    if (static_cast<size_t>(token) < n) {
      work_[static_cast<size_t>(token)] -= static_cast<float>(presence_ + frequency_ * count);
    }
  }
  return work_.data();
}

double Sampler::probabilities(const float* l, size_t n, float best) {
  const float inv_t = static_cast<float>(1.0 / temperature_);
  const size_t full = n / kChunk;
  double sum = exp_chunks(l, full, best, inv_t, prob_.data(), chunk_top_.data());
  if (full * kChunk < n) {
    float top = 0.0f;
    for (size_t i = full * kChunk; i < n; ++i) {
      prob_[i] = exp_in_range(l[i], best, inv_t);
      sum += prob_[i];
      top = std::max(top, prob_[i]);
    }
    chunk_top_.back() = top;
  }
  return sum;  // the same chunk sums, in the same order, as total(prob_, n)
}

void Sampler::collect(const float* l, size_t n, float best, float p_min) {
  const float* p = prob_.data();
  float* cp = cand_p_.data();
  int32_t* ids = cand_id_.data();
  size_t k = 0;
  auto take = [&](size_t i) {  // branch-free: write, advance only if kept
    cp[k] = p[i];
    ids[k] = static_cast<int32_t>(i);
    k += p[i] > p_min;
  };
  for (size_t c = 0; c < chunk_top_.size(); ++c) {
    if (!(chunk_top_[c] > p_min)) continue;  // most chunks, when the logits are peaked
    const size_t end = std::min(n, (c + 1) * kChunk);
    for (size_t i = c * kChunk; i < end; ++i) take(i);
  }
  cand_n_ = k;
  // Buckets from the same d as probabilities(). Kept tokens have d < kRange
  // = 32; at 128 a nat the bucket is exact and below kBuckets.
  const float inv_t = static_cast<float>(1.0 / temperature_);
  for (size_t j = 0; j < k; ++j) {
    const float d = (best - l[ids[j]]) * inv_t;
    cand_b_[j] = static_cast<uint16_t>(static_cast<int32_t>(d * kBucketsPerNat));
  }
}

void Sampler::histogram() {
  std::fill(count_.begin(), count_.end(), 0u);
  std::fill(mass_.begin(), mass_.end(), 0.0);
  for (size_t j = 0; j < cand_n_; ++j) {
    ++count_[cand_b_[j]];
    mass_[cand_b_[j]] += cand_p_[j];
  }
}

void Sampler::split_at(int b) {
  boundary_.clear();
  size_t k = 0;
  for (size_t j = 0; j < cand_n_; ++j) {
    const uint16_t cb = cand_b_[j];
    if (cb == b) boundary_.push_back({cand_p_[j], cand_id_[j]});
    cand_p_[k] = cand_p_[j];
    cand_id_[k] = cand_id_[j];
    cand_b_[k] = cb;
    k += cb < b;
  }
  cand_n_ = k;
}

int32_t Sampler::pick(const float* p, const int32_t* ids_or_null, size_t n, double mass) {
  auto ids = [ids_or_null](size_t i) { return ids_or_null ? ids_or_null[i] : static_cast<int32_t>(i); };
  const double u = rng_.uniform() * mass;
  double cum = 0.0;
  size_t i = 0;
  for (; i + kChunk <= n; i += kChunk) {
    const double s = chunk_sum(p + i);
    if (u < cum + s) {
      double c = cum;
      for (size_t j = i; j < i + kChunk; ++j) {
        c += p[j];
        if (u < c && p[j] > 0.0f) return ids(j);
      }
      // Rounding left u between the token-by-token and the chunk's sum.
      for (size_t j = i + kChunk; j-- > i;) {
        if (p[j] > 0.0f) return ids(j);
      }
    }
    cum += s;
  }
  for (; i < n; ++i) {
    cum += p[i];
    if (u < cum && p[i] > 0.0f) return ids(i);
  }
  for (size_t j = n; j-- > 0;) {  // not reached: u < mass, the same sum
    if (p[j] > 0.0f) return ids(j);
  }
  return ids(0);
}

int32_t Sampler::sample(std::span<const float> logits) {
  const size_t n = std::min(logits.size(), static_cast<size_t>(vocab_limit_));
  assert(n > 0);
  if (n == 0) return 0;
  const float* l = penalized(logits, n);
  if (greedy()) return argmax(l, n);

  const float best = max_of(l, n);
  if (!std::isfinite(best)) return argmax(l, n);  // +inf dominates; all -inf/NaN: anything
  if (prob_.size() < n) {
    prob_.resize(n);
    cand_p_.resize(n);
    cand_id_.resize(n);
    cand_b_.resize(n);
    count_.resize(kBuckets);
    mass_.resize(kBuckets);
  }
  chunk_top_.resize((n + kChunk - 1) / kChunk);
  const double all = probabilities(l, n, best);
  const bool use_p = top_p_ < 1.0;
  if (top_k_ == 0 && !use_p) return pick(prob_.data(), nullptr, n, all);

  // The candidates need not be every token. With top-k, the k-th largest of
  // the chunks' tops is at most the k-th largest p. With top-p alone, tokens
  // below p_min weigh less than (1 - top_p) * all together, so the nucleus
  // stops before any of them.
  float p_min = 0.0f;
  const auto k = static_cast<size_t>(top_k_);
  if (k > 0 && k <= chunk_top_.size()) {
    tops_ = chunk_top_;
    std::nth_element(tops_.begin(), tops_.begin() + static_cast<ptrdiff_t>(k - 1), tops_.end(),
                     std::greater<>());
    p_min = std::nextafter(tops_[k - 1], 0.0f);  // keeps p >= that top
  } else if (use_p) {
    p_min = static_cast<float>((1.0 - top_p_) * all / (static_cast<double>(n) * 2.718281828459045));
  }
  collect(l, n, best, p_min);
  if (k > 0 && cand_n_ < k && p_min > 0.0f) {  // top-p needs all k: take every token
    p_min = 0.0f;
    collect(l, n, best, p_min);
  }
  // Top-k binds when it leaves tokens out: candidates past the k-th, or
  // tokens that did not make the candidates (then there are at least k).
  const bool use_k = k > 0 && (k < cand_n_ || p_min > 0.0f);
  if (!use_k && !use_p) return pick(cand_p_.data(), cand_id_.data(), cand_n_, total(cand_p_.data(), cand_n_));
  histogram();

  // The bucket holding the cut: the k-th token, or where the mass reaches
  // top_p (with top-k on, top_p's cut can only come earlier).
  int cut = kBuckets - 1;
  if (use_k) {
    uint32_t seen = 0;
    for (int b = 0; b < kBuckets; ++b) {
      seen += count_[b];
      if (seen >= static_cast<uint32_t>(top_k_)) {
        cut = b;
        break;
      }
    }
  } else {
    const double target = top_p_ * all;
    double seen = 0.0;
    for (int b = 0; b < kBuckets; ++b) {
      seen += mass_[b];
      if (seen >= target) {
        cut = b;
        break;
      }
    }
  }

  // Best first; ties go to the lower id, so every order below is canonical.
  auto better = [](const Candidate& a, const Candidate& b) {
    return a.p > b.p || (a.p == b.p && a.id < b.id);
  };
  auto append = [this](const Candidate& c, int bucket) {
    cand_p_[cand_n_] = c.p;
    cand_id_[cand_n_] = c.id;
    cand_b_[cand_n_] = static_cast<uint16_t>(bucket);
    ++cand_n_;
  };

  double mass = all;
  if (use_k) {
    // The k best: every bucket before the cut and the best of the cut's.
    split_at(cut);
    const auto r = static_cast<ptrdiff_t>(static_cast<size_t>(top_k_) - cand_n_);
    std::partial_sort(boundary_.begin(), boundary_.begin() + r, boundary_.end(), better);
    for (ptrdiff_t j = 0; j < r; ++j) append(boundary_[static_cast<size_t>(j)], cut);
    mass = total(cand_p_.data(), cand_n_);
    if (!use_p) return pick(cand_p_.data(), cand_id_.data(), cand_n_, mass);
    mass_[cut] = 0.0;  // the cut's bucket now holds only the r kept
    for (ptrdiff_t j = 0; j < r; ++j) mass_[cut] += boundary_[static_cast<size_t>(j)].p;
  }

  // Nucleus: the smallest best-first prefix holding top_p of the mass.
  const double target = top_p_ * mass;
  int nucleus_cut = cut;
  double seen = 0.0;
  for (int b = 0; b <= cut; ++b) {
    seen += mass_[b];
    if (seen >= target) {
      nucleus_cut = b;
      break;
    }
  }
  split_at(nucleus_cut);
  double kept = total(cand_p_.data(), cand_n_);
  std::sort(boundary_.begin(), boundary_.end(), better);
  for (const Candidate& c : boundary_) {
    if (kept >= target && cand_n_ > 0) break;
    append(c, nucleus_cut);
    kept += c.p;
  }
  return pick(cand_p_.data(), cand_id_.data(), cand_n_, total(cand_p_.data(), cand_n_));
}

}  // namespace dsgw::local
