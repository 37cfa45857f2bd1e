// The forward pass against the independent float64 PyTorch reference
// (tests/support/reference/reference_model.py), on tiny random models.
#include "backends/local/model/transformer.h"

#include <doctest/doctest.h>

#include <functional>
#include <initializer_list>
#include <vector>

#include "tests/unit/local/model/model_test_support.h"

namespace dsgw::local {
namespace {

using testing::load_reference;
using testing::relative_error;

constexpr double kTolerance = 1e-4;

struct Variant {
  const char* name;
  DType dtype;
  // The reference to compare with: the fixture's own, or (bf16 weights run
  // in bf16, which keeps its KV cache in bf16) one with bf16 keys and values.
  const char* reference = nullptr;
  std::string reference_name() const { return reference != nullptr ? reference : name; }
};

// Every fixture, in the dtypes that keep fp32 activations exact w.r.t. the
// file's values (bf16 weights kept bf16, or widened; fp16 widened to fp32).
const Variant kBf16 = {"qwen2_bf16", DType::kBFloat16, "qwen2_bf16.kv_bf16"};
const Variant kVariants[] = {
    {"qwen2_f32", DType::kFloat32},  {"llama_f32", DType::kFloat32},  kBf16,
    {"qwen2_bf16", DType::kFloat32}, {"llama_fp16", DType::kFloat32}, {"qwen2_tied", DType::kFloat32},
};

Transformer load(const Variant& v) {
  LoadOptions o;
  o.dtype = v.dtype;
  auto t = Transformer::load(testing::fixture(v.name), o);
  REQUIRE_MESSAGE(t.has_value(), (t.has_value() ? "" : t.error().message));
  return std::move(t).value();
}

template <class R>
ErrorCode code_of(const R& r) {
  REQUIRE_FALSE(r.has_value());
  return r.error().code;
}

std::vector<float> copy(std::span<const float> s) { return {s.begin(), s.end()}; }

// A fixture's model, its reference outputs and a KV cache of `slots` x `tokens`.
struct Opened {
  Transformer t;
  std::vector<testing::ReferencePrompt> ref;
  KvCache cache;
};

Opened open(const Variant& v, int slots, std::int64_t tokens) {
  Transformer t = load(v);
  auto cache = t.make_kv_cache(slots, tokens);
  REQUIRE(cache.has_value());
  return {std::move(t), load_reference(v.reference_name()), std::move(cache).value()};
}

TEST_CASE("prefill logits match the reference for every fixture") {
  for (const auto& v : kVariants) {
    CAPTURE(v.name);
    CAPTURE(dtype_name(v.dtype));
    Transformer t = load(v);
    auto ref = load_reference(v.reference_name());
    auto cache = t.make_kv_cache(static_cast<int>(ref.size()), 64);
    REQUIRE(cache.has_value());
    for (std::size_t i = 0; i < ref.size(); ++i) {
      auto logits = t.forward(*cache, static_cast<int>(i), ref[i].tokens, 0);
      REQUIRE(logits.has_value());
      REQUIRE(logits->size() == ref[i].logits.back().size());
      CHECK(relative_error(*logits, ref[i].logits.back()) < kTolerance);
    }
  }
}

// The first reference prompt's length, which the settings below split.
constexpr std::size_t kFirstPromptTokens = 11;

// Prefills the first reference prompt of every fixture once per setting
// (`apply` puts it on the model) and checks the last logits.
template <class Setting>
void check_prefill_with(std::initializer_list<Setting> settings,
                        const std::function<void(Transformer&, Setting)>& apply) {
  for (const auto& v : kVariants) {
    CAPTURE(v.name);
    auto [t, ref, cache] = open(v, 1, 64);
    REQUIRE(ref[0].tokens.size() == kFirstPromptTokens);
    for (const Setting& setting : settings) {
      CAPTURE(setting);
      apply(t, setting);
      auto logits = t.forward(cache, 0, ref[0].tokens, 0);
      REQUIRE(logits.has_value());
      CHECK(relative_error(*logits, ref[0].logits.back()) < kTolerance);
    }
  }
}

TEST_CASE("chunked prefill equals the reference") {
  check_prefill_with<int>({1, 3, 4}, [](Transformer& t, int chunk) { t.set_prefill_chunk(chunk); });
}

TEST_CASE("attention in row blocks (bounded score memory) equals the reference") {
  // Blocks of 1, 2 and 3 query rows (8 heads, 11 keys).
  constexpr std::int64_t kRow = 8 * kFirstPromptTokens;
  check_prefill_with<std::int64_t>(
      {1, 2 * kRow, 3 * kRow}, [](Transformer& t, std::int64_t scores) { t.set_attention_block(scores); });
}

TEST_CASE("prefill in two calls continues from start_pos") {
  Transformer t = load({"llama_f32", DType::kFloat32});
  auto ref = load_reference("llama_f32");
  auto cache = t.make_kv_cache(2, 32);
  REQUIRE(cache.has_value());
  std::span<const std::int32_t> tokens = ref[0].tokens;
  auto first = t.forward(*cache, 1, tokens.first(5), 0);
  REQUIRE(first.has_value());
  CHECK(relative_error(*first, ref[0].logits[4]) < kTolerance);
  auto rest = t.forward(*cache, 1, tokens.subspan(5), 5);
  REQUIRE(rest.has_value());
  CHECK(relative_error(*rest, ref[0].logits.back()) < kTolerance);
}

TEST_CASE("step-by-step decode matches the reference at every position") {
  for (const auto& v : kVariants) {
    CAPTURE(v.name);
    auto [t, ref, cache] = open(v, 3, 64);
    const auto& p = ref[0];
    auto logits = t.forward(cache, 2, std::span(p.tokens).first(1), 0);
    REQUIRE(logits.has_value());
    CHECK(relative_error(*logits, p.logits[0]) < kTolerance);
    for (std::size_t pos = 1; pos < p.tokens.size(); ++pos) {
      CAPTURE(pos);
      const int slot = 2;
      const std::int32_t token = p.tokens[pos];
      const auto position = static_cast<std::int64_t>(pos);
      auto step = t.decode(cache, std::span(&slot, 1), std::span(&token, 1), std::span(&position, 1));
      REQUIRE(step.has_value());
      CHECK(relative_error(*step, p.logits[pos]) < kTolerance);
    }
  }
}

TEST_CASE("greedy generation gives the reference's tokens") {
  for (const auto& v : kVariants) {
    CAPTURE(v.name);
    auto [t, ref, cache] = open(v, 1, 64);
    for (const auto& p : ref) {
      REQUIRE(!p.greedy.empty());
      auto logits = t.forward(cache, 0, p.tokens, 0);
      REQUIRE(logits.has_value());
      std::vector<std::int32_t> generated;
      std::int32_t next = testing::argmax(*logits);
      auto pos = static_cast<std::int64_t>(p.tokens.size());
      while (true) {
        generated.push_back(next);
        if (generated.size() == p.greedy.size()) break;
        const int slot = 0;
        auto step = t.decode(cache, std::span(&slot, 1), std::span(&next, 1), std::span(&pos, 1));
        REQUIRE(step.has_value());
        next = testing::argmax(*step);
        ++pos;
      }
      CHECK(generated == p.greedy);
    }
  }
}

TEST_CASE("batched decode of sequences at different positions equals each run alone") {
  for (const auto& v : kVariants) {
    CAPTURE(v.name);
    Transformer t = load(v);
    auto ref = load_reference(v.reference_name());
    REQUIRE(ref.size() == 3);
    auto batched = t.make_kv_cache(4, 64);
    auto alone = t.make_kv_cache(4, 64);
    REQUIRE(batched.has_value());
    REQUIRE(alone.has_value());
    // Slots deliberately not in prompt order.
    const std::vector<int> slots = {3, 0, 2};
    std::vector<std::int32_t> tokens;
    std::vector<std::int64_t> positions;
    for (std::size_t i = 0; i < 3; ++i) {
      const auto& toks = ref[i].tokens;
      const std::span<const std::int32_t> prompt(toks.data(), toks.size() - 1);
      REQUIRE(t.forward(*batched, slots[i], prompt, 0).has_value());
      REQUIRE(t.forward(*alone, slots[i], prompt, 0).has_value());
      tokens.push_back(toks.back());
      positions.push_back(static_cast<std::int64_t>(toks.size() - 1));
    }
    REQUIRE(positions[0] != positions[1]);
    const auto vocab = static_cast<std::size_t>(t.vocab_size());
    for (int step = 0; step < 4; ++step) {
      CAPTURE(step);
      auto rows = t.decode(*batched, slots, tokens, positions);
      REQUIRE(rows.has_value());
      REQUIRE(rows->size() == 3 * vocab);
      std::vector<float> all = copy(*rows);
      for (std::size_t i = 0; i < 3; ++i) {
        CAPTURE(i);
        std::span<const float> row(all.data() + i * vocab, vocab);
        auto single =
            t.decode(*alone, std::span(&slots[i], 1), std::span(&tokens[i], 1), std::span(&positions[i], 1));
        REQUIRE(single.has_value());
        CHECK(relative_error(row, *single) < 1e-5);
        if (step == 0) CHECK(relative_error(row, ref[i].logits.back()) < kTolerance);
        tokens[i] = testing::argmax(row);
        ++positions[i];
      }
    }
  }
}

TEST_CASE("decode batches of 16 (the gemv kernel for many rows) and 17 (the matmul path) still agree") {
  Transformer t = load(kBf16);
  auto ref = load_reference(kBf16.reference_name());
  for (int n : {16, 17}) {
    CAPTURE(n);
    auto cache = t.make_kv_cache(n, 32);
    REQUIRE(cache.has_value());
    std::vector<int> slots;
    std::vector<std::int32_t> tokens;
    std::vector<std::int64_t> positions;
    for (int s = 0; s < n; ++s) {
      const auto& toks = ref[static_cast<std::size_t>(s % 3)].tokens;
      REQUIRE(t.forward(*cache, s, std::span(toks.data(), toks.size() - 1), 0).has_value());
      slots.push_back(s);
      tokens.push_back(toks.back());
      positions.push_back(static_cast<std::int64_t>(toks.size() - 1));
    }
    auto rows = t.decode(*cache, slots, tokens, positions);
    REQUIRE(rows.has_value());
    const auto vocab = static_cast<std::size_t>(t.vocab_size());
    for (std::size_t s = 0; s < static_cast<std::size_t>(n); ++s) {
      CAPTURE(s);
      CHECK(relative_error(std::span(rows->data() + s * vocab, vocab), ref[s % 3].logits.back()) <
            kTolerance);
    }
  }
}

TEST_CASE("memory usage: weights mapped when the dtype matches, KV cache counted") {
  {
    Transformer t = load({"qwen2_f32", DType::kFloat32});
    auto mem = t.memory_usage();
    CHECK(mem.weight_bytes > 0);
    CHECK(mem.mapped_weight_bytes == mem.weight_bytes);  // everything is a view of the file
    CHECK(mem.mapped_huge_page_bytes == 0);              // a file under 2 MB has no 2 MB page
    auto cache = t.make_kv_cache(2, 16);
    REQUIRE(cache.has_value());
    // 2 layers x (k + v) x 2 slots x 2 kv heads x 16 tokens x 16 head_dim x 4 bytes
    CHECK(cache->bytes() == 2u * 2 * 2 * 2 * 16 * 16 * 4);
    CHECK(t.memory_usage(&*cache).kv_cache_bytes == cache->bytes());
    CHECK_FALSE(mem.cuda_max_allocated_bytes.has_value());
  }
  {
    Transformer t = load(kBf16);
    auto mem = t.memory_usage();
    // Matrices are views; norms and biases were widened to fp32.
    CHECK(mem.mapped_weight_bytes > 0.9 * static_cast<double>(mem.weight_bytes));
    CHECK(mem.mapped_weight_bytes < mem.weight_bytes);
    // Same shape as qwen2_f32, keys and values in bf16: half the bytes.
    auto cache = t.make_kv_cache(2, 16);
    REQUIRE(cache.has_value());
    CHECK(cache->bytes() == 2u * 2 * 2 * 2 * 16 * 16 * 2);
  }
  {
    Transformer t = load({"llama_fp16", DType::kFloat32});
    CHECK(t.memory_usage().mapped_weight_bytes == 0);  // fp16 converted at load
  }
}

TEST_CASE("bad calls are errors, not crashes") {
  Transformer t = load({"qwen2_f32", DType::kFloat32});
  auto cache = t.make_kv_cache(2, 8);
  REQUIRE(cache.has_value());
  const std::vector<std::int32_t> ok = {1, 2, 3};
  CHECK(code_of(t.forward(*cache, 2, ok, 0)) == ErrorCode::kInvalidRequest);
  CHECK(code_of(t.forward(*cache, -1, ok, 0)) == ErrorCode::kInvalidRequest);
  CHECK(code_of(t.forward(*cache, 0, ok, 6)) == ErrorCode::kContextLengthExceeded);
  CHECK(code_of(t.forward(*cache, 0, std::vector<std::int32_t>{}, 0)) == ErrorCode::kInvalidRequest);
  auto bad_token = t.forward(*cache, 0, std::vector<std::int32_t>{1, 256}, 0);
  REQUIRE_FALSE(bad_token.has_value());
  CHECK(bad_token.error().message.find("256") != std::string::npos);
  const std::vector<int> dup = {1, 1};
  const std::vector<std::int32_t> toks = {1, 2};
  const std::vector<std::int64_t> pos = {0, 0};
  CHECK(code_of(t.decode(*cache, dup, toks, pos)) == ErrorCode::kInvalidRequest);
  const std::vector<int> two = {0, 1};
  const std::vector<std::int64_t> far = {0, 8};
  CHECK(code_of(t.decode(*cache, two, toks, far)) == ErrorCode::kContextLengthExceeded);
  CHECK_FALSE(t.decode(*cache, two, std::vector<std::int32_t>{1}, pos).has_value());
  CHECK_FALSE(t.make_kv_cache(0, 8).has_value());
  CHECK_FALSE(t.make_kv_cache(1, t.max_context() + 1).has_value());
}

TEST_CASE("device and dtype choices") {
  LoadOptions o;
  o.dtype = DType::kFloat16;
  auto fp16 = Transformer::load(testing::fixture("qwen2_f32"), o);
  REQUIRE_FALSE(fp16.has_value());
  CHECK(fp16.error().message.find("fp16") != std::string::npos);

  auto cuda = parse_device("cuda:0");
  REQUIRE(cuda.has_value());
  LoadOptions g;
  g.device = *cuda;
  auto on_gpu = Transformer::load(testing::fixture("qwen2_f32"), g);
  if (!on_gpu.has_value()) {
    CHECK(on_gpu.error().message.find("cuda:0") != std::string::npos);
  } else {
    // A CUDA build with a GPU: it must at least run.
    auto cache = on_gpu->make_kv_cache(1, 16);
    REQUIRE(cache.has_value());
    CHECK(on_gpu->forward(*cache, 0, std::vector<std::int32_t>{1, 2, 3}, 0).has_value());
  }
  CHECK_FALSE(parse_device("gpu").has_value());
  CHECK_FALSE(parse_device("cuda:").has_value());
  CHECK(parse_device("cuda:3")->index == 3);
  CHECK(parse_dtype("bf16").value() == DType::kBFloat16);
  CHECK_FALSE(parse_dtype("int8").has_value());
}

}  // namespace
}  // namespace dsgw::local
