// The per-request token sampler of the local engine (llama2.c's sample(),
// grown up): penalties, temperature, top-k, top-p, then a draw from a PRNG
// we own, so that a seed gives the same tokens on every platform and run
// (given the same logits).
//
// Parameters (router::SamplingParams, already range-checked by the front door;
// out-of-range values are clamped here):
// - temperature: 0 (or below 1e-6) = greedy argmax, ties to the lowest id.
//   Absent: 0.6.
// - top_p: nucleus over the temperature-scaled distribution (after top-k).
//   Absent: 0.95. 0 keeps only the most likely token.
//   The 0.6 / 0.95 defaults are DeepSeek's recommendation for the R1 distills
//   (their generation_config.json); like vLLM, each applies only to the field
//   the request leaves out.
// - top_k: keep the k most likely tokens; absent, 0 or -1 = off; 1 = greedy.
// - seed: the same seed and logits give the same tokens; absent = a random seed.
// - presence_penalty / frequency_penalty, OpenAI semantics over the tokens
//   accept()ed so far: logit -= presence * (count > 0) + frequency * count,
//   before temperature.
//
// Only the first `vocab_limit` logits are candidates: the embedding table has
// padding rows past the tokenizer's size, and those are never sampled.
//
// Cost: vectorised passes over the row for the max and for exp and the sum
// (16-token chunks lying wholly more than 32 nats below the best are skipped).
// With top-p, the tokens so unlikely that all of them together could not
// reach into the nucleus (p < (1 - top_p) * sum / (e * n)) are left out at
// once; the rest go into a histogram of 1/128-nat buckets, so only the one
// bucket that straddles the cut is sorted, never the vocabulary (like
// llama.cpp's bucketed top-p). exp is a polynomial of ours (relative error
// ~1e-6, the same on every platform); tokens more than 32 nats (after
// temperature) below the best one have probability < 1.3e-14 of it and are
// never sampled. About 2 MB of scratch per sampler at vocabulary 152k,
// allocated on the first non-greedy call. Not thread-safe; one per request.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "router/request.h"

namespace dsgw::local {

// xoshiro256** seeded through splitmix64: small, fast and identical everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  double uniform();  // [0, 1), 53 random bits

 private:
  std::array<uint64_t, 4> s_;
};

class Sampler {
 public:
  static constexpr double kDefaultTemperature = 0.6;
  static constexpr double kDefaultTopP = 0.95;
  static constexpr double kMinTemperature = 1e-6;  // below it: greedy
  static constexpr float kRange = 32.0f;           // nats below the best; tokens past it are never sampled

  // `vocab_limit` > 0: ids at or past it are never sampled.
  Sampler(const router::SamplingParams& params, int32_t vocab_limit);

  // The next token from one row of logits (the full row; entries past
  // vocab_limit are ignored).
  int32_t sample(std::span<const float> logits);
  // Records a generated token for the penalties (call for every token the
  // engine appends, sampled or forced).
  void accept(int32_t token);

  uint64_t seed() const { return seed_; }
  double temperature() const { return temperature_; }
  double top_p() const { return top_p_; }
  int top_k() const { return top_k_; }
  bool greedy() const { return temperature_ == 0.0 || top_k_ == 1; }

 private:
  struct Candidate {
    float p;
    int32_t id;
  };
  // Buckets of the distance d = (best logit - logit) / T, 1/128 nat wide; a
  // power of two per nat, so the bucket is exact and never overflows.
  static constexpr int kBucketsPerNat = 128;
  static constexpr int kBuckets = static_cast<int>(kRange) * kBucketsPerNat;

  const float* penalized(std::span<const float> logits, size_t n);
  // prob_[i] = exp(-d) for every token within kRange of `best`, else 0, and
  // chunk_top_ the largest of each chunk; returns their sum.
  double probabilities(const float* l, size_t n, float best);
  // The candidates: the tokens with prob_ > p_min, in id order, with buckets.
  void collect(const float* l, size_t n, float best, float p_min);
  void histogram();
  // Keeps the candidates before bucket `b` (in order), moves those in it to
  // boundary_ and drops the rest.
  void split_at(int b);
  // Draws from the weights p[0..n), which sum to `mass` (as total() adds);
  // ids maps positions to tokens, null for the identity.
  int32_t pick(const float* p, const int32_t* ids, size_t n, double mass);

  double temperature_;
  double top_p_;
  int top_k_;  // 0 = off
  double presence_;
  double frequency_;
  int32_t vocab_limit_;
  uint64_t seed_;
  Rng rng_;

  std::unordered_map<int32_t, int32_t> counts_;  // generated token -> times
  // Scratch, sized on the first sampled (non-greedy) call.
  std::vector<float> work_;       // penalized logits
  std::vector<float> prob_;       // exp(-d) per token, 0 past kRange
  std::vector<float> chunk_top_;  // largest prob_ of each 16-token chunk
  std::vector<float> tops_;       // a copy to select from
  std::vector<uint32_t> count_;   // per bucket
  std::vector<double> mass_;      // per bucket
  // Candidates, structure of arrays; cand_n_ of them are valid.
  std::vector<float> cand_p_;
  std::vector<int32_t> cand_id_;
  std::vector<uint16_t> cand_b_;  // floor(d * kBucketsPerNat)
  size_t cand_n_ = 0;
  std::vector<Candidate> boundary_;
};

}  // namespace dsgw::local
