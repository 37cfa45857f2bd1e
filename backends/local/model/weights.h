// The tensors of a decoder stack: which ones a config implies (names, shapes),
// checking a TensorStore against that, and turning them into at::Tensors —
// zero-copy views on the mapped files where the dtype already matches.
// Internal to the engine (includes ATen's Tensor type).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <string>
#include <vector>

#include "backends/local/model/device.h"
#include "backends/local/model/model_config.h"
#include "backends/local/model/safetensors.h"
#include "common/status.h"

namespace dsgw::local {

struct WeightSpec {
  std::string name;
  std::vector<std::int64_t> shape;
  bool matrix = false;  // stored in the weight dtype; vectors (norms, biases) in the activation dtype
};

// Every tensor the config requires, in file order: embeddings, layers, norm, lm_head.
std::vector<WeightSpec> expected_weights(const ModelConfig& config);

// Each expected tensor exists, has the expected shape and a floating dtype
// (F32, F16 or BF16). Errors name the tensor and the file (or the index).
Status check_weights(const TensorStore& store, const ModelConfig& config);

struct LayerWeights {
  at::Tensor input_norm;
  at::Tensor q_proj, k_proj, v_proj, o_proj;  // [out, in]
  at::Tensor q_bias, k_bias, v_bias;          // undefined without attention bias
  at::Tensor post_norm;
  at::Tensor gate_proj, up_proj, down_proj;
};

struct Weights {
  at::Tensor embed;  // [vocab, hidden]
  std::vector<LayerWeights> layers;
  at::Tensor final_norm;
  at::Tensor lm_head;                      // [vocab, hidden]; the same tensor as embed when tied
  std::size_t bytes = 0;                   // everything held, mapped or not
  std::size_t mapped_bytes = 0;            // of which zero-copy views of the files
  std::size_t mapped_huge_page_bytes = 0;  // of the files holding those, on 2 MB pages at load
};

// Asks for 2 MB pages (MADV_HUGEPAGE) over the 2 MB-aligned part of a heap
// buffer not yet touched, so that it faults in 2 MB pages where transparent
// huge pages are enabled ("madvise", Debian's default, or "always"). Decode
// streams every weight per token; with 4 KB pages each 4 KB costs a TLB miss
// and often a page walk that misses the caches too: on 2 MB pages the gemv
// kernels ran 1.07-1.10x faster at one row of x and 1.10-1.15x at 16 here
// (R1-Distill-Qwen-1.5B's bf16 matrices). Best effort: EINVAL without THP.
void advise_huge_pages(void* data, std::size_t size);

struct WeightPlacement {
  Device device;
  at::ScalarType matrix_dtype = at::kFloat;  // weight dtype
  at::ScalarType vector_dtype = at::kFloat;  // activation dtype
};

// check_weights, then builds the tensors. libtorch exceptions become errors.
Result<Weights> load_weights(const TensorStore& store, const ModelConfig& config,
                             const WeightPlacement& placement);

}  // namespace dsgw::local
