// config.json of a Hugging Face causal LM, parsed into a typed struct and
// checked for what this engine supports (Qwen2 and Llama decoder stacks).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "common/status.h"

namespace dsgw::local {

enum class Architecture { kQwen2, kLlama };

// rope_scaling {"rope_type": "llama3", ...}.
struct Llama3RopeScaling {
  double factor = 8.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  std::int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  Architecture architecture = Architecture::kQwen2;
  std::string architecture_name;  // as in the file, e.g. "Qwen2ForCausalLM"
  std::int64_t hidden_size = 0;
  std::int64_t num_layers = 0;
  std::int64_t num_heads = 0;
  std::int64_t num_kv_heads = 0;
  std::int64_t head_dim = 0;  // hidden_size / num_heads unless config.json says
  std::int64_t intermediate_size = 0;
  std::int64_t vocab_size = 0;  // embedding rows (more than the tokenizer's tokens)
  std::int64_t max_position_embeddings = 0;
  double rope_theta = 10000.0;
  std::optional<Llama3RopeScaling> rope_scaling;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v bias (Qwen2 always; Llama per attention_bias)
  std::string torch_dtype;      // informational: "bfloat16", ...
  std::optional<std::int64_t> bos_token_id;
  std::optional<std::int64_t> eos_token_id;  // the first one if config.json has a list
};

// Parses config.json text; `source` names the file in messages.
Result<ModelConfig> parse_model_config(const std::string& text, const std::string& source);
// Reads DIR/config.json.
Result<ModelConfig> load_model_config(const std::filesystem::path& dir);

}  // namespace dsgw::local
