#include "backends/local/model/model_config.h"

// Before doctest: libtorch's headers define glog's CHECK, which would
// otherwise replace doctest's.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>

#include "backends/local/model/rope.h"

namespace dsgw::local {
namespace {

// R1-Distill-Qwen-1.5B's config.json, as published.
const char* kQwen15 = R"({
  "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
  "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 1536, "initializer_range": 0.02,
  "intermediate_size": 8960, "max_position_embeddings": 131072, "max_window_layers": 21,
  "model_type": "qwen2", "num_attention_heads": 12, "num_hidden_layers": 28, "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06, "rope_theta": 10000, "sliding_window": 4096, "tie_word_embeddings": false,
  "torch_dtype": "bfloat16", "transformers_version": "4.44.0", "use_cache": true, "use_mrope": false,
  "use_sliding_window": false, "vocab_size": 151936})";

// R1-Distill-Llama-8B's.
const char* kLlama8 = R"({
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 128000, "eos_token_id": 128001, "hidden_act": "silu", "hidden_size": 4096,
  "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 131072,
  "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32,
  "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "transformers_version": "4.43.0.dev0", "use_cache": true, "vocab_size": 128256})";

TEST_CASE("R1-Distill-Qwen-1.5B config") {
  auto c = parse_model_config(kQwen15, "config.json");
  REQUIRE(c.has_value());
  CHECK(c->architecture == Architecture::kQwen2);
  CHECK(c->hidden_size == 1536);
  CHECK(c->num_layers == 28);
  CHECK(c->num_heads == 12);
  CHECK(c->num_kv_heads == 2);
  CHECK(c->head_dim == 128);
  CHECK(c->intermediate_size == 8960);
  CHECK(c->vocab_size == 151936);
  CHECK(c->rope_theta == 10000.0);
  CHECK_FALSE(c->rope_scaling.has_value());
  CHECK(c->rms_norm_eps == 1e-6);
  CHECK(c->attention_bias);
  CHECK_FALSE(c->tie_word_embeddings);
  CHECK(c->torch_dtype == "bfloat16");
  CHECK(c->eos_token_id == 151643);
}

TEST_CASE("R1-Distill-Llama-8B config and its llama3 rope frequencies") {
  auto c = parse_model_config(kLlama8, "config.json");
  REQUIRE(c.has_value());
  CHECK(c->architecture == Architecture::kLlama);
  CHECK_FALSE(c->attention_bias);
  REQUIRE(c->rope_scaling.has_value());
  CHECK(c->rope_scaling->factor == 8.0);
  CHECK(c->rope_scaling->original_max_position_embeddings == 8192);
  CHECK(c->head_dim == 128);

  auto inv = rope_inv_freq(*c);
  REQUIRE(inv.size() == 64);
  auto plain = [&](std::size_t i) { return 1.0 / std::pow(500000.0, 2.0 * static_cast<double>(i) / 128.0); };
  // High frequencies (wavelength < 8192/4) unchanged, low ones (> 8192) divided by 8, the rest blended.
  CHECK(inv[0] == doctest::Approx(plain(0)));
  CHECK(inv[20] == doctest::Approx(plain(20)));
  CHECK(inv[63] == doctest::Approx(plain(63) / 8));
  for (std::size_t i = 0; i < 64; ++i) {
    const double wavelen = 2 * std::numbers::pi / plain(i);
    if (wavelen >= 2048 && wavelen <= 8192) {
      CHECK(inv[i] < plain(i));
      CHECK(inv[i] > plain(i) / 8);
    }
  }
}

TEST_CASE("config errors name the file and the key") {
  auto bad = [](const std::string& text) {
    auto c = parse_model_config(text, "/m/config.json");
    REQUIRE_FALSE(c.has_value());
    return c.error().message;
  };
  std::string qwen = kQwen15;
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = qwen;
    auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
  };
  CHECK(bad(with("Qwen2ForCausalLM", "MistralForCausalLM")).find("MistralForCausalLM") != std::string::npos);
  CHECK(bad(with("\"hidden_size\": 1536", "\"hidden_size\": -3")).find("hidden_size") != std::string::npos);
  CHECK(bad(with("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 5")).find("num_key_value_heads") !=
        std::string::npos);
  CHECK(bad(with("\"use_sliding_window\": false", "\"use_sliding_window\": true")).find("sliding") !=
        std::string::npos);
  CHECK(bad(with("\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"")).find("gelu") != std::string::npos);
  CHECK(bad(with("\"vocab_size\": 151936", "\"vocab_size\": \"many\"")).find("vocab_size") !=
        std::string::npos);
  CHECK(bad(with("\"rope_theta\": 10000,", "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4},"))
            .find("yarn") != std::string::npos);
  CHECK(bad("{").find("/m/config.json") != std::string::npos);
  CHECK(bad("[]").find("/m/config.json") != std::string::npos);
  std::string no_layers = with("\"num_hidden_layers\": 28,", "");
  CHECK(bad(no_layers).find("num_hidden_layers") != std::string::npos);

  auto defaulted = parse_model_config(
      with("\"rope_theta\": 10000,", "\"rope_scaling\": {\"rope_type\": \"default\"},"), "config.json");
  REQUIRE(defaulted.has_value());
  CHECK_FALSE(defaulted->rope_scaling.has_value());
  CHECK(defaulted->rope_theta == 10000.0);
}

TEST_CASE("missing config.json") {
  auto c = load_model_config("/nonexistent/model");
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error().message.find("/nonexistent/model/config.json") != std::string::npos);
}

}  // namespace
}  // namespace dsgw::local
