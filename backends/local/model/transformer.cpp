#include "backends/local/model/transformer.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <thread>
#include <vector>

#include "backends/local/model/decode_attention.h"
#include "backends/local/model/gemv.h"
#include "backends/local/model/kv_cache_storage.h"
#include "backends/local/model/linear.h"
#include "backends/local/model/openblas_core.h"
#include "backends/local/model/rope.h"
#include "backends/local/model/safetensors.h"
#include "backends/local/model/sha384_manifest.h"
#include "backends/local/model/weights.h"

#ifdef DSGW_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace dsgw::local {
namespace {

constexpr std::int64_t kDefaultMaxContext = 32768;

at::ScalarType scalar_type(DType d) {
  switch (d) {
    case DType::kFloat32:
      return at::kFloat;
    case DType::kBFloat16:
      return at::kBFloat16;
    case DType::kFloat16:
      return at::kHalf;
  }
  return at::kFloat;
}

// HF's RMSNorm: normalise in fp32, cast back, then scale.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  if (x.device().is_cpu() && x.scalar_type() == at::kFloat && weight.scalar_type() == at::kFloat) {
    // Two passes over each row instead of six ATen ops: this runs twice per layer.
    const at::Tensor xc = x.contiguous();
    at::Tensor y = at::empty_like(xc);
    const std::int64_t rows = xc.size(0), n = xc.size(1);
    const float* w = weight.data_ptr<float>();
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* in = xc.data_ptr<float>() + r * n;
      float* out = y.data_ptr<float>() + r * n;
      float sum = 0.f;
      for (std::int64_t i = 0; i < n; ++i) sum += in[i] * in[i];
      const float inv = 1.0f / std::sqrt(sum / static_cast<float>(n) + static_cast<float>(eps));
      for (std::int64_t i = 0; i < n; ++i) out[i] = w[i] * (in[i] * inv);
    }
    return y;
  }
  at::Tensor xf = x.to(at::kFloat);
  at::Tensor inv = at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true).add_(eps));
  return (xf * inv).to(x.scalar_type()).mul_(weight);
}

// Attention of `q` [n, heads, head_dim] over `keys`/`values` [kv_heads, len,
// head_dim]; query t sits at position q_start + t and sees keys 0..q_start+t.
// Returns [n, heads * head_dim].
at::Tensor attend(const at::Tensor& q, const at::Tensor& keys, const at::Tensor& values, std::int64_t q_start,
                  std::int64_t max_scores) {
  const std::int64_t n = q.size(0), heads = q.size(1), head_dim = q.size(2);
  const std::int64_t kv_heads = keys.size(0), len = keys.size(1);
  const std::int64_t group = heads / kv_heads;
  if (keys.scalar_type() != q.scalar_type()) {  // a bf16 cache under fp32 activations
    return attend(q, keys.to(q.scalar_type()), values.to(q.scalar_type()), q_start, max_scores);
  }
  // Scores are [heads, n, len]: in long prefills, take the queries in row
  // blocks (each seeing only the keys it may) to bound that temporary.
  const std::int64_t rows_per_block = std::max<std::int64_t>(1, max_scores / (heads * len));
  if (n > rows_per_block) {
    std::vector<at::Tensor> parts;
    for (std::int64_t r = 0; r < n; r += rows_per_block) {
      const std::int64_t m = std::min(rows_per_block, n - r);
      const std::int64_t visible = q_start + r + m;
      parts.push_back(attend(q.narrow(0, r, m), keys.narrow(1, 0, visible), values.narrow(1, 0, visible),
                             q_start + r, max_scores));
    }
    return at::cat(parts, 0);
  }
  // Query head h uses kv head h / group (transformers' repeat_kv).
  at::Tensor qg =
      q.view({n, kv_heads, group, head_dim}).permute({1, 2, 0, 3}).reshape({kv_heads, group * n, head_dim});
  at::Tensor scores = at::bmm(qg, keys.transpose(1, 2)).mul_(1.0 / std::sqrt(static_cast<double>(head_dim)));
  if (n > 1) {
    at::Tensor future =
        at::ones({n, len}, at::TensorOptions().dtype(at::kBool).device(q.device())).triu_(q_start + 1);
    scores.view({kv_heads, group, n, len}).masked_fill_(future, -std::numeric_limits<float>::infinity());
  }
  at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
  at::Tensor out = at::bmm(probs, values);  // [kv_heads, group * n, head_dim]
  return out.view({kv_heads, group, n, head_dim}).permute({2, 0, 1, 3}).reshape({n, heads * head_dim});
}

Error internal(const std::string& what, const std::exception& e) {
  return make_error(ErrorCode::kInternal, what + ": " + e.what());
}

}  // namespace

struct Transformer::Impl {
  std::filesystem::path dir;
  ModelConfig config;
  LoadOptions options;
  Weights weights;
  RopeTable rope;
  Linear linear;
  at::TensorOptions act;                            // activation dtype and device
  at::TensorOptions kv;                             // KV-cache dtype and device
  at::Tensor logits;                                // fp32 host [rows, vocab], grown on demand
  std::int64_t max_scores = std::int64_t{1} << 24;  // attention scores per block (64 MB in fp32)

  at::Tensor project(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias) {
    at::Tensor y = at::empty({x.size(0), w.size(0)}, act);
    linear.forward(x, w, bias, y);
    return y;
  }

  // Rows of the residual stream and where each one's keys go.
  struct Rows {
    int slot = 0;                // prefill: one slot
    std::int64_t start = 0;      // prefill: first position
    std::span<const int> slots;  // decode: one per row
    std::span<const std::int64_t> positions;
    RopeTable::Angles angles;  // rotary cos/sin per row
    bool decode = false;
  };

  void layer(std::size_t index, at::Tensor& x, KvCache::Storage& cache, const Rows& rows) {
    const LayerWeights& w = weights.layers[index];
    const std::int64_t n = x.size(0);
    const auto& c = config;
    at::Tensor h = rms_norm(x, w.input_norm, c.rms_norm_eps);
    at::Tensor q = project(h, w.q_proj, w.q_bias).view({n, c.num_heads, c.head_dim});
    at::Tensor k = project(h, w.k_proj, w.k_bias).view({n, c.num_kv_heads, c.head_dim});
    at::Tensor v = project(h, w.v_proj, w.v_bias).view({n, c.num_kv_heads, c.head_dim});
    at::Tensor& keys = cache.keys[index];
    at::Tensor& values = cache.values[index];
    at::Tensor attn;
    if (!rows.decode) {
      RopeTable::apply(q, rows.angles);
      RopeTable::apply(k, rows.angles);
      at::Tensor slot_k = keys.select(0, rows.slot);  // [kv_heads, max_tokens, head_dim]
      at::Tensor slot_v = values.select(0, rows.slot);
      slot_k.narrow(1, rows.start, n).copy_(k.transpose(0, 1));
      slot_v.narrow(1, rows.start, n).copy_(v.transpose(0, 1));
      const std::int64_t len = rows.start + n;
      attn = attend(q, slot_k.narrow(1, 0, len), slot_v.narrow(1, 0, len), rows.start, max_scores);
    } else if (decode_attention_supported(q, keys)) {
      RopeTable::apply(q, rows.angles);
      RopeTable::apply(k, rows.angles);
      attn = at::empty({n, c.num_heads * c.head_dim}, act);
      decode_attention(q, k, v, keys, values, rows.slots, rows.positions, attn);
    } else {
      RopeTable::apply(q, rows.angles);
      RopeTable::apply(k, rows.angles);
      if (n > 1) attn = at::empty({n, c.num_heads * c.head_dim}, act);
      for (std::int64_t b = 0; b < n; ++b) {
        at::Tensor slot_k = keys.select(0, rows.slots[b]);
        at::Tensor slot_v = values.select(0, rows.slots[b]);
        const std::int64_t pos = rows.positions[b];
        slot_k.select(1, pos).copy_(k[b]);
        slot_v.select(1, pos).copy_(v[b]);
        at::Tensor one = attend(q.narrow(0, b, 1), slot_k.narrow(1, 0, pos + 1), slot_v.narrow(1, 0, pos + 1),
                                pos, max_scores);
        if (n == 1) {
          attn = one;
        } else {
          attn[b].copy_(one[0]);
        }
      }
    }
    x.add_(project(attn, w.o_proj, at::Tensor()));
    h = rms_norm(x, w.post_norm, c.rms_norm_eps);
    at::Tensor gate = project(h, w.gate_proj, at::Tensor());
    at::Tensor up = project(h, w.up_proj, at::Tensor());
    gate = at::silu_(gate).mul_(up);
    x.add_(project(gate, w.down_proj, at::Tensor()));
  }

  // Final norm and lm_head over `x` [rows, hidden]; logits land in `logits`.
  std::span<const float> head(const at::Tensor& x) {
    const std::int64_t rows = x.size(0);
    const std::int64_t vocab = config.vocab_size;
    if (!logits.defined() || logits.size(0) < rows) logits = at::empty({rows, vocab}, at::kFloat);
    at::Tensor out = logits.narrow(0, 0, rows);
    at::Tensor h = rms_norm(x, weights.final_norm, config.rms_norm_eps);
    if (act.device().is_cuda()) {
      out.copy_(project(h, weights.lm_head, at::Tensor()));
    } else {
      linear.forward(h, weights.lm_head, at::Tensor(), out);
    }
    return {logits.data_ptr<float>(), static_cast<std::size_t>(rows * vocab)};
  }

  at::Tensor embed(std::span<const std::int32_t> tokens) {
    std::vector<std::int64_t> ids(tokens.begin(), tokens.end());
    at::Tensor idx =
        at::from_blob(ids.data(), {static_cast<std::int64_t>(ids.size())}, at::kLong).to(act.device());
    return weights.embed.index_select(0, idx).to(act.dtype()).contiguous();
  }

  Status check_tokens(std::span<const std::int32_t> tokens) const {
    for (auto t : tokens) {
      if (t < 0 || t >= config.vocab_size) {
        return make_error(ErrorCode::kInvalidRequest, "token id " + std::to_string(t) +
                                                          " outside the vocabulary [0, " +
                                                          std::to_string(config.vocab_size) + ")");
      }
    }
    return Status::ok();
  }
};

Transformer::Transformer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Transformer::Transformer(Transformer&&) noexcept = default;
Transformer& Transformer::operator=(Transformer&&) noexcept = default;
Transformer::~Transformer() = default;

Result<Transformer> Transformer::load(const std::filesystem::path& dir, const LoadOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->options = options;
  const Device& device = options.device;
  if (device.is_cuda()) {
    if (!torch::cuda::is_available()) {
      return make_error(ErrorCode::kUnavailable, "device " + device_name(device) +
                                                     ": this libtorch has no CUDA, or no GPU is visible");
    }
    if (device.index >= static_cast<int>(torch::cuda::device_count())) {
      return make_error(ErrorCode::kUnavailable, "device " + device_name(device) + ": only " +
                                                     std::to_string(torch::cuda::device_count()) +
                                                     " GPU(s) visible");
    }
  } else if (options.dtype == DType::kFloat16) {
    return make_error(
        ErrorCode::kInvalidRequest,
        "dtype fp16 is not supported on cpu (libtorch has no fp16 matmul there); use bf16 or fp32");
  }
  auto config = load_model_config(dir);
  if (!config) return config.error();
  impl->config = *config;
  if (options.verify_checksums) {
    auto verified = verify_sha384_manifest(dir);
    if (!verified) return verified.error();
  }
  auto store = TensorStore::open(dir);
  if (!store) return store.error();

  const at::ScalarType weight_dtype = scalar_type(options.dtype);
  const at::Device at_device = device.is_cuda()
                                   ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device.index))
                                   : at::Device(at::kCPU);
  // CPU: fp32 activations whatever the weights (bf16 weights are widened in
  // the matmul kernels). CUDA: activations in the weight dtype.
  const at::ScalarType act_dtype = device.is_cuda() ? weight_dtype : at::kFloat;
  impl->act = at::TensorOptions().dtype(act_dtype).device(at_device);
  // The KV cache in the weight dtype when that is narrower: on the CPU, bf16
  // keys and values halve what 16 streams' attention reads per step (and
  // double the context kv_cache_mb buys); attention still computes in fp32.
  impl->kv = impl->act.dtype(weight_dtype == at::kBFloat16 ? at::kBFloat16 : act_dtype);

  if (!device.is_cuda()) {
    const int threads = options.threads > 0
                            ? options.threads
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    set_cpu_threads(threads);
  }
  auto weights = load_weights(*store, impl->config, WeightPlacement{device, weight_dtype, act_dtype});
  if (!weights) return weights.error();
  impl->weights = std::move(weights).value();

  std::int64_t max_context = options.max_context > 0
                                 ? options.max_context
                                 : std::min(impl->config.max_position_embeddings, kDefaultMaxContext);
  try {
    impl->rope = RopeTable(impl->config, max_context, impl->act);
  } catch (const std::exception& e) {
    return internal("building rotary tables", e);
  }
  impl->options.prefill_chunk = std::max(1, options.prefill_chunk);
  return Transformer(std::move(impl));
}

const ModelConfig& Transformer::config() const { return impl_->config; }
std::int64_t Transformer::vocab_size() const { return impl_->config.vocab_size; }
std::int64_t Transformer::max_context() const { return impl_->rope.max_positions(); }
void Transformer::set_prefill_chunk(int tokens) { impl_->options.prefill_chunk = std::max(1, tokens); }
void Transformer::set_attention_block(std::int64_t scores) {
  impl_->max_scores = std::max<std::int64_t>(1, scores);
}
int Transformer::prefill_chunk() const { return impl_->options.prefill_chunk; }

std::string Transformer::describe() const {
  const auto& c = impl_->config;
  const auto mem = memory_usage();
  std::ostringstream s;
  s << c.architecture_name << " from " << impl_->dir.string() << ": " << c.num_layers << " layers, hidden "
    << c.hidden_size << ", heads " << c.num_heads << "/" << c.num_kv_heads << ", vocab " << c.vocab_size
    << "; " << dtype_name(impl_->options.dtype) << " weights on " << device_name(impl_->options.device);
  if (!impl_->options.device.is_cuda()) {
    s << " (" << at::get_num_threads() << " threads, gemv " << gemv_kernel_name();
    if (const std::string blas = blas_summary(); !blas.empty()) s << ", prefill on " << blas;
    s << ")";
  }
  s << ", " << mem.weight_bytes / 1000000 << " MB of weights (" << mem.mapped_weight_bytes / 1000000
    << " MB mapped";
  if (mem.mapped_weight_bytes > 0)
    s << ", " << mem.mapped_huge_page_bytes / 1000000 << " MB of it on 2 MB pages";
  s << ")";
  return s.str();
}

Result<KvCache> Transformer::make_kv_cache(int slots, std::int64_t max_tokens) const {
  if (slots < 1 || max_tokens < 1) {
    return make_error(ErrorCode::kInvalidRequest, "KV cache needs at least one slot and one token");
  }
  if (max_tokens > max_context()) {
    return make_error(ErrorCode::kInvalidRequest, "KV cache of " + std::to_string(max_tokens) +
                                                      " tokens exceeds the model's context of " +
                                                      std::to_string(max_context()));
  }
  try {
    auto storage = std::make_unique<KvCache::Storage>(
        KvCache::Storage::allocate(impl_->config, slots, max_tokens, impl_->kv));
    return KvCache(std::move(storage));
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kUnavailable, std::string("cannot allocate the KV cache: ") + e.what());
  }
}

Result<std::span<const float>> Transformer::forward(KvCache& cache, int slot,
                                                    std::span<const std::int32_t> tokens,
                                                    std::int64_t start_pos) {
  Impl& m = *impl_;
  if (tokens.empty()) return make_error(ErrorCode::kInvalidRequest, "forward needs at least one token");
  if (slot < 0 || slot >= cache.slots()) {
    return make_error(ErrorCode::kInvalidRequest, "slot " + std::to_string(slot) + " outside the KV cache");
  }
  const auto n = static_cast<std::int64_t>(tokens.size());
  if (start_pos < 0 || start_pos + n > cache.max_tokens()) {
    return make_error(ErrorCode::kContextLengthExceeded, "positions [" + std::to_string(start_pos) + ", " +
                                                             std::to_string(start_pos + n) +
                                                             ") do not fit a KV cache slot of " +
                                                             std::to_string(cache.max_tokens()) + " tokens");
  }
  if (auto st = m.check_tokens(tokens); !st) return st.error();
  try {
    at::NoGradGuard no_grad;
    std::span<const float> out;
    const std::int64_t chunk = m.options.prefill_chunk;
    for (std::int64_t begin = 0; begin < n; begin += chunk) {
      const std::int64_t len = std::min(chunk, n - begin);
      at::Tensor x = m.embed(tokens.subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(len)));
      Impl::Rows rows;
      rows.slot = slot;
      rows.start = start_pos + begin;
      rows.angles = m.rope.range(rows.start, len);
      for (std::size_t l = 0; l < m.weights.layers.size(); ++l) m.layer(l, x, cache.storage(), rows);
      if (begin + len == n) out = m.head(x.narrow(0, len - 1, 1));
    }
    return out;
  } catch (const std::exception& e) {
    return internal("forward failed", e);
  }
}

Result<std::span<const float>> Transformer::decode(KvCache& cache, std::span<const int> slots,
                                                   std::span<const std::int32_t> tokens,
                                                   std::span<const std::int64_t> positions) {
  Impl& m = *impl_;
  if (slots.empty() || slots.size() != tokens.size() || slots.size() != positions.size()) {
    return make_error(ErrorCode::kInvalidRequest, "decode needs one slot, token and position per sequence");
  }
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (slots[i] < 0 || slots[i] >= cache.slots()) {
      return make_error(ErrorCode::kInvalidRequest,
                        "slot " + std::to_string(slots[i]) + " outside the KV cache");
    }
    if (positions[i] < 0 || positions[i] >= cache.max_tokens()) {
      return make_error(ErrorCode::kContextLengthExceeded,
                        "position " + std::to_string(positions[i]) + " does not fit a KV cache slot of " +
                            std::to_string(cache.max_tokens()) + " tokens");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (slots[j] == slots[i]) {
        return make_error(ErrorCode::kInvalidRequest,
                          "slot " + std::to_string(slots[i]) + " appears twice in a batch");
      }
    }
  }
  if (auto st = m.check_tokens(tokens); !st) return st.error();
  try {
    at::NoGradGuard no_grad;
    at::Tensor x = m.embed(tokens);
    Impl::Rows rows;
    rows.decode = true;
    rows.slots = slots;
    rows.positions = positions;
    std::vector<std::int64_t> pos(positions.begin(), positions.end());
    rows.angles = m.rope.at(
        at::from_blob(pos.data(), {static_cast<std::int64_t>(pos.size())}, at::kLong).to(m.act.device()));
    for (std::size_t l = 0; l < m.weights.layers.size(); ++l) m.layer(l, x, cache.storage(), rows);
    return m.head(x);
  } catch (const std::exception& e) {
    return internal("decode failed", e);
  }
}

MemoryUsage Transformer::memory_usage(const KvCache* cache) const {
  MemoryUsage u;
  u.weight_bytes = impl_->weights.bytes;
  u.mapped_weight_bytes = impl_->weights.mapped_bytes;
  u.mapped_huge_page_bytes = std::min(impl_->weights.mapped_huge_page_bytes, impl_->weights.mapped_bytes);
  if (cache != nullptr) u.kv_cache_bytes = cache->bytes();
#ifdef DSGW_TORCH_CUDA
  if (impl_->options.device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(
        static_cast<c10::DeviceIndex>(impl_->options.device.index));
    u.cuda_max_allocated_bytes = static_cast<std::size_t>(stats.allocated_bytes[0].peak);  // [0]: aggregate
  }
#endif
  return u;
}

}  // namespace dsgw::local
