// Broken model directories: every load error is a Result that names the file
// and, where there is one, the tensor. Built from copies of the fixtures.
#include <doctest/doctest.h>

#include <string>

#include "backends/local/model/transformer.h"
#include "tests/unit/local/model/model_test_support.h"

namespace dsgw::local {
namespace {

namespace fs = std::filesystem;
using testing::RawSafetensors;
using testing::TempDir;

std::string load_error(const fs::path& dir, bool verify = true) {
  LoadOptions o;
  o.verify_checksums = verify;
  auto t = Transformer::load(dir, o);
  REQUIRE_FALSE(t.has_value());
  return t.error().message;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

#define CHECK_NAMES(message, ...)                                             \
  do {                                                                        \
    const std::string msg_ = (message);                                       \
    CAPTURE(msg_);                                                            \
    for (const char* needle_ : {__VA_ARGS__}) CHECK(contains(msg_, needle_)); \
  } while (0)

TEST_CASE("a copy of a good fixture loads (the baseline for the broken ones)") {
  TempDir dir;
  testing::copy_model("qwen2_f32", dir.path());
  CHECK(Transformer::load(dir.path()).has_value());
}

TEST_CASE("missing files") {
  TempDir dir;
  CHECK_NAMES(load_error(dir.path()), "config.json");
  testing::copy_model("qwen2_f32", dir.path());
  fs::remove(dir / "SHA384SUMS");
  fs::remove(dir / "model.safetensors");
  CHECK_NAMES(load_error(dir.path()), "model.safetensors", "model.safetensors.index.json");
  CHECK_NAMES(load_error(dir / "no_such_dir"), "no_such_dir");
}

TEST_CASE("truncated file names the tensor that runs past the end") {
  TempDir dir;
  testing::copy_model("qwen2_f32", dir.path());
  fs::remove(dir / "SHA384SUMS");
  fs::resize_file(dir / "model.safetensors", fs::file_size(dir / "model.safetensors") - 100);
  CHECK_NAMES(load_error(dir.path()), "model.safetensors", "lm_head.weight", "truncated");
  fs::resize_file(dir / "model.safetensors", 5);
  CHECK_NAMES(load_error(dir.path()), "model.safetensors", "truncated");
}

TEST_CASE("corrupt headers") {
  TempDir dir;
  testing::copy_model("qwen2_f32", dir.path());
  fs::remove(dir / "SHA384SUMS");
  const fs::path file = dir / "model.safetensors";
  const std::string good = testing::read_text(file);

  SUBCASE("header length past the end of the file") {
    std::string bad = good;
    const std::uint64_t len = good.size();  // > size - 8
    for (int i = 0; i < 8; ++i) bad[static_cast<std::size_t>(i)] = static_cast<char>((len >> (8 * i)) & 0xFF);
    testing::write_text(file, bad);
    CHECK_NAMES(load_error(dir.path()), "model.safetensors", "header length");
  }
  SUBCASE("bad JSON") {
    std::string bad = good;
    bad[8] = '[';
    bad[9] = '}';
    testing::write_text(file, bad);
    CHECK_NAMES(load_error(dir.path()), "model.safetensors", "invalid JSON");
  }
  SUBCASE("overlapping offsets") {
    auto raw = RawSafetensors::read(file);
    auto& off = raw.header["model.layers.0.self_attn.k_proj.weight"]["data_offsets"];
    off[0] = off[0].get<std::uint64_t>() - 8;
    off[1] = off[1].get<std::uint64_t>() - 8;
    raw.write(file);
    CHECK_NAMES(load_error(dir.path()), "model.safetensors", "model.layers.0.self_attn.k_proj.weight",
                "overlap");
  }
  SUBCASE("offsets that end before they begin") {
    auto raw = RawSafetensors::read(file);
    auto& off = raw.header["model.norm.weight"]["data_offsets"];
    off = {off[1], off[0]};
    raw.write(file);
    CHECK_NAMES(load_error(dir.path()), "model.safetensors", "model.norm.weight");
  }
  SUBCASE("size that does not match dtype and shape") {
    auto raw = RawSafetensors::read(file);
    raw.header["model.norm.weight"]["shape"] = {65};
    raw.write(file);
    CHECK_NAMES(load_error(dir.path()), "model.safetensors", "model.norm.weight", "need");
  }
  SUBCASE("unknown dtype") {
    auto raw = RawSafetensors::read(file);
    raw.header["model.norm.weight"]["dtype"] = "F31";
    raw.write(file);
    CHECK_NAMES(load_error(dir.path()), "model.safetensors", "model.norm.weight", "F31");
  }
}

TEST_CASE("missing and mis-shaped tensors") {
  TempDir dir;
  testing::copy_model("qwen2_f32", dir.path());
  fs::remove(dir / "SHA384SUMS");
  const fs::path file = dir / "model.safetensors";
  auto tensors = testing::tensors_of(RawSafetensors::read(file));

  SUBCASE("dropped") {
    std::erase_if(tensors, [](const auto& t) { return t.name == "model.layers.1.mlp.up_proj.weight"; });
    testing::write_tensors(file, tensors);
    CHECK_NAMES(load_error(dir.path()), "model.safetensors", "model.layers.1.mlp.up_proj.weight", "missing");
  }
  SUBCASE("dropped bias (Qwen2 needs q/k/v bias)") {
    std::erase_if(tensors, [](const auto& t) { return t.name == "model.layers.0.self_attn.v_proj.bias"; });
    testing::write_tensors(file, tensors);
    CHECK_NAMES(load_error(dir.path()), "model.layers.0.self_attn.v_proj.bias", "missing");
  }
  SUBCASE("wrong shape, same size") {
    for (auto& t : tensors) {
      if (t.name == "model.layers.0.self_attn.k_proj.weight") t.shape = {64, 32};
    }
    testing::write_tensors(file, tensors);
    CHECK_NAMES(load_error(dir.path()), "model.safetensors", "model.layers.0.self_attn.k_proj.weight",
                "[64, 32]", "[32, 64]");
  }
  SUBCASE("unsupported dtype") {
    for (auto& t : tensors) {
      if (t.name == "model.embed_tokens.weight") t.dtype = "I32";
    }
    testing::write_tensors(file, tensors);
    CHECK_NAMES(load_error(dir.path()), "model.safetensors", "model.embed_tokens.weight", "I32");
  }
}

TEST_CASE("bad config.json") {
  TempDir dir;
  testing::copy_model("qwen2_f32", dir.path());
  fs::remove(dir / "SHA384SUMS");
  auto cfg = nlohmann::json::parse(testing::read_text(dir / "config.json"));
  SUBCASE("unsupported architecture") {
    cfg["architectures"] = {"MistralForCausalLM"};
    testing::write_text(dir / "config.json", cfg.dump());
    CHECK_NAMES(load_error(dir.path()), "config.json", "MistralForCausalLM");
  }
  SUBCASE("shape that does not fit the tensors") {
    cfg["intermediate_size"] = 100;
    testing::write_text(dir / "config.json", cfg.dump());
    CHECK_NAMES(load_error(dir.path()), "model.safetensors", "model.layers.0.mlp.gate_proj.weight",
                "[100, 64]");
  }
  SUBCASE("not JSON") {
    testing::write_text(dir / "config.json", "{");
    CHECK_NAMES(load_error(dir.path()), "config.json", "invalid JSON");
  }
}

TEST_CASE("sharded checkpoints resolve through the index") {
  TempDir dir;
  testing::copy_model("llama_f32", dir.path());
  REQUIRE(Transformer::load(dir.path()).has_value());
  auto index = nlohmann::json::parse(testing::read_text(dir / "model.safetensors.index.json"));
  const std::string second = "model-00002-of-00002.safetensors";

  SUBCASE("a shard the index names is missing") {
    fs::remove(dir / second);
    CHECK_NAMES(load_error(dir.path()), second.c_str(), "lm_head.weight");
  }
  SUBCASE("the index sends a tensor to the wrong shard") {
    index["weight_map"]["lm_head.weight"] = "model-00001-of-00002.safetensors";
    testing::write_text(dir / "model.safetensors.index.json", index.dump());
    CHECK_NAMES(load_error(dir.path()), "model-00001-of-00002.safetensors", "lm_head.weight", "missing");
  }
  SUBCASE("a tensor missing from the index is missing, whatever the shards hold") {
    index["weight_map"].erase("model.norm.weight");
    testing::write_text(dir / "model.safetensors.index.json", index.dump());
    CHECK_NAMES(load_error(dir.path()), "model.norm.weight", "missing");
  }
  SUBCASE("renamed shards load when the index says so (no file-name patterns)") {
    fs::rename(dir / second, dir / "weights-part-b.bin");
    for (auto& [tensor, file] : index["weight_map"].items()) {
      if (file == second) file = "weights-part-b.bin";
    }
    testing::write_text(dir / "model.safetensors.index.json", index.dump());
    CHECK(Transformer::load(dir.path()).has_value());
  }
  SUBCASE("the index may not point outside the directory") {
    index["weight_map"]["lm_head.weight"] = "../elsewhere.safetensors";
    testing::write_text(dir / "model.safetensors.index.json", index.dump());
    CHECK_NAMES(load_error(dir.path()), "model.safetensors.index.json", "lm_head.weight");
  }
}

TEST_CASE("SHA384SUMS mismatch names the file; verification can be switched off") {
  TempDir dir;
  testing::copy_model("qwen2_f32", dir.path());
  REQUIRE(fs::exists(dir / "SHA384SUMS"));
  std::string bytes = testing::read_text(dir / "model.safetensors");
  bytes[bytes.size() - 3] ^= 0x01;  // one bit of lm_head's data; the header stays valid
  testing::write_text(dir / "model.safetensors", bytes);
  CHECK_NAMES(load_error(dir.path()), "model.safetensors", "SHA384SUMS", "mismatch");
  LoadOptions unchecked;
  unchecked.verify_checksums = false;
  CHECK(Transformer::load(dir.path(), unchecked).has_value());

  bytes[bytes.size() - 3] ^= 0x01;  // restored: the manifest matches again
  testing::write_text(dir / "model.safetensors", bytes);
  CHECK(Transformer::load(dir.path()).has_value());
  testing::write_text(dir / "SHA384SUMS",
                      testing::read_text(dir / "SHA384SUMS") + std::string(96, 'a') + "  gone.safetensors\n");
  CHECK_NAMES(load_error(dir.path()), "gone.safetensors", "SHA384SUMS");
}

}  // namespace
}  // namespace dsgw::local
