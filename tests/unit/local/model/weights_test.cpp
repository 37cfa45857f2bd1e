#include "backends/local/model/weights.h"

#include <ATen/ATen.h>
#include <doctest/doctest.h>

#include "tests/unit/local/model/model_test_support.h"

namespace dsgw::local {
namespace {

struct Loaded {
  ModelConfig config;
  TensorStore store;
};

Loaded open_fixture(const std::string& name) {
  auto config = load_model_config(testing::fixture(name));
  REQUIRE(config.has_value());
  auto store = TensorStore::open(testing::fixture(name));
  REQUIRE(store.has_value());
  return {*config, *store};
}

TEST_CASE("expected tensors follow the config") {
  auto f = open_fixture("qwen2_f32");
  auto specs = expected_weights(f.config);
  // embed + 2 layers x (2 norms + 4 projections + 3 biases + 3 mlp) + norm + lm_head
  CHECK(specs.size() == 1 + 2 * 12 + 2);
  CHECK(check_weights(f.store, f.config).is_ok());
  auto llama = open_fixture("llama_f32");
  CHECK(expected_weights(llama.config).size() == 1 + 3 * 9 + 2);  // no biases
  auto tied = open_fixture("qwen2_tied");
  CHECK(expected_weights(tied.config).back().name == "model.norm.weight");  // no lm_head
}

TEST_CASE("matching dtype on CPU: zero-copy views of the mapped file") {
  auto f = open_fixture("qwen2_f32");
  auto w = load_weights(f.store, f.config, {Device{}, at::kFloat, at::kFloat});
  REQUIRE(w.has_value());
  const TensorInfo* embed = f.store.find("model.embed_tokens.weight");
  CHECK(w->embed.data_ptr() == static_cast<const void*>(embed->data));
  CHECK(w->layers[1].down_proj.data_ptr() ==
        static_cast<const void*>(f.store.find("model.layers.1.mlp.down_proj.weight")->data));
  CHECK(w->mapped_bytes == w->bytes);

  auto b = open_fixture("qwen2_bf16");
  auto wb = load_weights(b.store, b.config, {Device{}, at::kBFloat16, at::kFloat});
  REQUIRE(wb.has_value());
  CHECK((wb->lm_head.scalar_type() == at::kBFloat16));
  CHECK(wb->lm_head.data_ptr() == static_cast<const void*>(b.store.find("lm_head.weight")->data));
  CHECK((wb->final_norm.scalar_type() == at::kFloat));  // vectors in the activation dtype
}

TEST_CASE("converted dtypes are copies with the same values") {
  auto b = open_fixture("qwen2_bf16");
  auto widened = load_weights(b.store, b.config, {Device{}, at::kFloat, at::kFloat});
  auto kept = load_weights(b.store, b.config, {Device{}, at::kBFloat16, at::kFloat});
  REQUIRE(widened.has_value());
  REQUIRE(kept.has_value());
  CHECK(widened->mapped_bytes == 0);
  CHECK((widened->embed.scalar_type() == at::kFloat));
  CHECK(at::equal(widened->embed, kept->embed.to(at::kFloat)));

  auto h = open_fixture("llama_fp16");
  auto from_half = load_weights(h.store, h.config, {Device{}, at::kFloat, at::kFloat});
  REQUIRE(from_half.has_value());
  CHECK((from_half->layers[0].q_proj.scalar_type() == at::kFloat));
  CHECK_FALSE(from_half->layers[0].q_bias.defined());
}

TEST_CASE("tied embeddings share the tensor") {
  auto t = open_fixture("qwen2_tied");
  auto w = load_weights(t.store, t.config, {Device{}, at::kFloat, at::kFloat});
  REQUIRE(w.has_value());
  CHECK(w->lm_head.data_ptr() == w->embed.data_ptr());
}

TEST_CASE("a mismatching config is reported through the index for sharded models") {
  auto f = open_fixture("llama_f32");
  f.config.num_layers = 4;  // the checkpoint has 3
  auto st = check_weights(f.store, f.config);
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.error().message.find("model.layers.3.input_layernorm.weight") != std::string::npos);
  CHECK(st.error().message.find("model.safetensors.index.json") != std::string::npos);
}

}  // namespace
}  // namespace dsgw::local
