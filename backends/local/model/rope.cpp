#include "backends/local/model/rope.h"

#include <ATen/ATen.h>

#include <cmath>
#include <numbers>

namespace dsgw::local {

std::vector<double> rope_inv_freq(const ModelConfig& c) {
  const std::int64_t half = c.head_dim / 2;
  std::vector<double> inv(static_cast<std::size_t>(half));
  for (std::int64_t i = 0; i < half; ++i) {
    inv[i] = 1.0 / std::pow(c.rope_theta, static_cast<double>(2 * i) / static_cast<double>(c.head_dim));
  }
  if (c.rope_scaling) {
    // transformers' _compute_llama3_parameters: long wavelengths are divided
    // by `factor`, short ones kept, the band between blended smoothly.
    const auto& s = *c.rope_scaling;
    const double old_len = static_cast<double>(s.original_max_position_embeddings);
    const double low_freq_wavelen = old_len / s.low_freq_factor;
    const double high_freq_wavelen = old_len / s.high_freq_factor;
    for (auto& f : inv) {
      const double wavelen = 2.0 * std::numbers::pi / f;
      if (wavelen < high_freq_wavelen) continue;
      if (wavelen > low_freq_wavelen) {
        f /= s.factor;
        continue;
      }
      const double smooth =
          (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      f = (1.0 - smooth) * f / s.factor + smooth * f;
    }
  }
  return inv;
}

RopeTable::RopeTable(const ModelConfig& config, std::int64_t max_positions, const at::TensorOptions& options)
    : max_positions_(max_positions) {
  const auto inv = rope_inv_freq(config);
  const auto half = static_cast<std::int64_t>(inv.size());
  at::Tensor cos = at::empty({max_positions, half}, at::kDouble);
  at::Tensor sin = at::empty({max_positions, half}, at::kDouble);
  auto c = cos.accessor<double, 2>();
  auto s = sin.accessor<double, 2>();
  for (std::int64_t p = 0; p < max_positions; ++p) {
    for (std::int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(p) * inv[static_cast<std::size_t>(i)];
      c[p][i] = std::cos(angle);
      s[p][i] = std::sin(angle);
    }
  }
  cos_ = cos.to(options);
  sin_ = sin.to(options);
}

RopeTable::Angles RopeTable::range(std::int64_t start, std::int64_t n) const {
  return {cos_.narrow(0, start, n).unsqueeze(1), sin_.narrow(0, start, n).unsqueeze(1)};
}

RopeTable::Angles RopeTable::at(const at::Tensor& positions) const {
  return {cos_.index_select(0, positions).unsqueeze(1), sin_.index_select(0, positions).unsqueeze(1)};
}

void RopeTable::apply(at::Tensor& x, const Angles& a) {
  // out1 = x1 cos - x2 sin, out2 = x2 cos + x1 sin (rotate_half convention).
  const std::int64_t half = x.size(-1) / 2;
  if (x.device().is_cpu() && x.scalar_type() == at::kFloat && x.is_contiguous() && a.cos.is_contiguous() &&
      a.cos.scalar_type() == at::kFloat) {
    // One loop instead of six ATen ops per call; runs twice per layer.
    const std::int64_t n = x.size(0), heads = x.size(1);
    float* p = x.data_ptr<float>();
    const float* cs = a.cos.data_ptr<float>();
    const float* sn = a.sin.data_ptr<float>();
    for (std::int64_t r = 0; r < n; ++r) {
      const float* c = cs + r * half;
      const float* s = sn + r * half;
      for (std::int64_t h = 0; h < heads; ++h) {
        float* v = p + (r * heads + h) * 2 * half;
        for (std::int64_t i = 0; i < half; ++i) {
          const float x1 = v[i], x2 = v[i + half];
          v[i] = x1 * c[i] - x2 * s[i];
          v[i + half] = x2 * c[i] + x1 * s[i];
        }
      }
    }
    return;
  }
  at::Tensor x1 = x.narrow(-1, 0, half);
  at::Tensor x2 = x.narrow(-1, half, half);
  at::Tensor r1 = x1 * a.cos - x2 * a.sin;
  x2.mul_(a.cos).addcmul_(x1, a.sin);
  x1.copy_(r1);
}

}  // namespace dsgw::local
