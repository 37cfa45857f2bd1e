#include "backends/local/model/weights.h"

#include <ATen/ATen.h>
#include <sys/mman.h>

#include <cstdint>
#include <set>
#include <sstream>

namespace dsgw::local {
namespace {

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::ostringstream s;
  s << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << ']';
  return s.str();
}

std::string where(const TensorStore& store, const TensorInfo* info) {
  return info != nullptr ? info->file->path().string() : store.source();
}

Error weight_error(const std::string& where, const std::string& tensor, const std::string& what) {
  return make_error(ErrorCode::kUnavailable, where + ": tensor '" + tensor + "': " + what);
}

std::optional<at::ScalarType> scalar_type(StDType dtype) {
  switch (dtype) {
    case StDType::kF32:
      return at::kFloat;
    case StDType::kF16:
      return at::kHalf;
    case StDType::kBF16:
      return at::kBFloat16;
    default:
      return std::nullopt;
  }
}

}  // namespace

std::vector<WeightSpec> expected_weights(const ModelConfig& c) {
  const std::int64_t h = c.hidden_size;
  const std::int64_t q = c.num_heads * c.head_dim;
  const std::int64_t kv = c.num_kv_heads * c.head_dim;
  std::vector<WeightSpec> out;
  out.push_back({"model.embed_tokens.weight", {c.vocab_size, h}, true});
  for (std::int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    out.push_back({p + "input_layernorm.weight", {h}, false});
    out.push_back({p + "self_attn.q_proj.weight", {q, h}, true});
    out.push_back({p + "self_attn.k_proj.weight", {kv, h}, true});
    out.push_back({p + "self_attn.v_proj.weight", {kv, h}, true});
    if (c.attention_bias) {
      out.push_back({p + "self_attn.q_proj.bias", {q}, false});
      out.push_back({p + "self_attn.k_proj.bias", {kv}, false});
      out.push_back({p + "self_attn.v_proj.bias", {kv}, false});
    }
    out.push_back({p + "self_attn.o_proj.weight", {h, q}, true});
    out.push_back({p + "post_attention_layernorm.weight", {h}, false});
    out.push_back({p + "mlp.gate_proj.weight", {c.intermediate_size, h}, true});
    out.push_back({p + "mlp.up_proj.weight", {c.intermediate_size, h}, true});
    out.push_back({p + "mlp.down_proj.weight", {h, c.intermediate_size}, true});
  }
  out.push_back({"model.norm.weight", {h}, false});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, h}, true});
  return out;
}

Status check_weights(const TensorStore& store, const ModelConfig& config) {
  for (const auto& spec : expected_weights(config)) {
    const TensorInfo* info = store.find(spec.name);
    if (info == nullptr) {
      std::string files;
      for (const auto& f : store.files()) files += (files.empty() ? "" : ", ") + f;
      return weight_error(where(store, info), spec.name, "missing (looked in " + files + ")");
    }
    if (info->shape != spec.shape) {
      return weight_error(
          where(store, info), spec.name,
          "shape " + shape_string(info->shape) + " but config.json implies " + shape_string(spec.shape));
    }
    if (!scalar_type(info->dtype)) {
      return weight_error(
          where(store, info), spec.name,
          std::string("dtype ") + st_dtype_name(info->dtype) + " is not supported (F32, F16 or BF16)");
    }
  }
  return Status::ok();
}

void advise_huge_pages(void* data, std::size_t size) {
  constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;
  const auto begin = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t first = (begin + kHugePage - 1) & ~(kHugePage - 1);
  const std::uintptr_t last = (begin + size) & ~(kHugePage - 1);
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
}

namespace {

// A tensor over the mapped bytes, in the file's dtype, on CPU. The deleter
// holds the mapping, so the tensor keeps the file mapped.
at::Tensor view_of(const TensorInfo& info) {
  auto file = info.file;
  return at::from_blob(
      const_cast<std::byte*>(info.data), info.shape, [file](void*) {},
      at::TensorOptions().dtype(*scalar_type(info.dtype)));
}

struct Placed {
  at::Tensor tensor;
  bool mapped = false;
};

Placed place(const TensorInfo& info, const WeightPlacement& p, at::ScalarType dtype) {
  at::Tensor view = view_of(info);
  const bool aligned = reinterpret_cast<std::uintptr_t>(info.data) % element_size(info.dtype) == 0;
  if (!p.device.is_cuda() && view.scalar_type() == dtype && aligned) return {view, true};
  if (p.device.is_cuda()) {
    return {view.to(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(p.device.index)), dtype), false};
  }
  if (!aligned) view = view.clone();  // copy_ may assume aligned elements
  // Converted on the heap, on 2 MB pages where the kernel allows (asked
  // before the copy first touches the memory).
  at::Tensor converted = at::empty(view.sizes(), at::TensorOptions().dtype(dtype));
  advise_huge_pages(converted.data_ptr(), converted.nbytes());
  converted.copy_(view);
  return {converted, false};
}

}  // namespace

Result<Weights> load_weights(const TensorStore& store, const ModelConfig& config,
                             const WeightPlacement& placement) {
  if (auto st = check_weights(store, config); !st) return st.error();
  Weights w;
  std::set<const MappedFile*> mapped_files;
  std::string current;
  try {
    auto get = [&](const std::string& name, bool matrix) -> at::Tensor {
      current = name;
      const TensorInfo* info = store.find(name);
      Placed placed = place(*info, placement, matrix ? placement.matrix_dtype : placement.vector_dtype);
      const std::size_t n = static_cast<std::size_t>(placed.tensor.numel()) * placed.tensor.element_size();
      w.bytes += n;
      if (placed.mapped) {
        w.mapped_bytes += n;
        mapped_files.insert(info->file.get());
      }
      return placed.tensor;
    };
    const std::string pre = "model.layers.";
    w.embed = get("model.embed_tokens.weight", true);
    for (std::int64_t i = 0; i < config.num_layers; ++i) {
      const std::string p = pre + std::to_string(i) + ".";
      LayerWeights l;
      l.input_norm = get(p + "input_layernorm.weight", false);
      l.q_proj = get(p + "self_attn.q_proj.weight", true);
      l.k_proj = get(p + "self_attn.k_proj.weight", true);
      l.v_proj = get(p + "self_attn.v_proj.weight", true);
      if (config.attention_bias) {
        l.q_bias = get(p + "self_attn.q_proj.bias", false);
        l.k_bias = get(p + "self_attn.k_proj.bias", false);
        l.v_bias = get(p + "self_attn.v_proj.bias", false);
      }
      l.o_proj = get(p + "self_attn.o_proj.weight", true);
      l.post_norm = get(p + "post_attention_layernorm.weight", false);
      l.gate_proj = get(p + "mlp.gate_proj.weight", true);
      l.up_proj = get(p + "mlp.up_proj.weight", true);
      l.down_proj = get(p + "mlp.down_proj.weight", true);
      w.layers.push_back(std::move(l));
    }
    w.final_norm = get("model.norm.weight", false);
    w.lm_head = config.tie_word_embeddings ? w.embed : get("lm_head.weight", true);
    // Decode reads every mapped weight: fault them in now, not on the first request.
    const std::vector<const MappedFile*> files(mapped_files.begin(), mapped_files.end());
    for (const MappedFile* file : files) file->prefault();
    w.mapped_huge_page_bytes = MappedFile::huge_page_bytes(files).value_or(0);
  } catch (const std::exception& e) {
    const TensorInfo* info = store.find(current);
    return weight_error(where(store, info), current, std::string("cannot load: ") + e.what());
  }
  return w;
}

}  // namespace dsgw::local
