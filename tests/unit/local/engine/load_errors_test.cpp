// A model that cannot load leaves the backend present but not usable, with a
// reason that names the file, and every generation fails with kUnavailable.
// Built from links to (and damaged copies of) the demo model's files.
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "tests/unit/local/engine/engine_test_support.h"

namespace dsgw::local {
namespace {

using testing::chat_request;
using testing::completion_request;
using testing::demo_options;
using testing::Outcome;
using testing::TempDir;
using testing::test_info;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

EngineOptions options_for(const std::filesystem::path& dir) {
  EngineOptions o = demo_options();
  o.model_dir = dir;
  return o;
}

// The backend on `dir` is not usable, says why naming every `needles`, and
// fails generations with kUnavailable.
void check_unusable(const std::filesystem::path& dir, std::initializer_list<const char*> needles) {
  LocalBackend b(test_info(), options_for(dir));
  const backends::Health h = b.health();
  CAPTURE(h.reason);
  CHECK_FALSE(h.usable);
  for (const char* n : needles) CHECK(contains(h.reason, n));
  CHECK_FALSE(b.stats().has_value());
  CHECK(b.load().running == 0);
  CHECK(b.load().queued == 0);
  for (const auto& request : {chat_request("hi", 4), completion_request("hi", 4)}) {
    const Outcome o = testing::run(b, request);
    REQUIRE(o.failure.has_value());
    CHECK(o.failure->code == ErrorCode::kUnavailable);
    CHECK(contains(o.failure->message, "local-test"));  // the backend's name
    CHECK(o.terminals == 1);
    CHECK(o.deltas == 0);
  }
}

void link_tokenizer(const TempDir& dir) {
  testing::link_model_file(dir.path(), "tokenizer.json");
  testing::link_model_file(dir.path(), "tokenizer_config.json");
}

TEST_CASE("a model directory that does not exist") {
  TempDir dir;
  check_unusable(dir / "no-such-model", {"no-such-model"});
}

TEST_CASE("a model directory without model.safetensors") {
  TempDir dir;
  link_tokenizer(dir);
  testing::link_model_file(dir.path(), "config.json");
  check_unusable(dir.path(), {"model.safetensors"});
}

TEST_CASE("a model directory without tokenizer.json") {
  TempDir dir;
  testing::link_model_file(dir.path(), "config.json");
  testing::link_model_file(dir.path(), "model.safetensors");
  check_unusable(dir.path(), {"tokenizer.json"});
}

TEST_CASE("a truncated model.safetensors") {
  TempDir dir;
  link_tokenizer(dir);
  testing::link_model_file(dir.path(), "config.json");
  testing::copy_model_file(dir.path(), "model.safetensors");
  const auto file = dir / "model.safetensors";
  std::filesystem::resize_file(file, std::filesystem::file_size(file) / 2);
  check_unusable(dir.path(), {"model.safetensors", "truncated"});
}

TEST_CASE("a SHA384SUMS mismatch") {
  TempDir dir;
  link_tokenizer(dir);
  testing::link_model_file(dir.path(), "config.json");
  testing::link_model_file(dir.path(), "model.safetensors");
  // The real manifest with one digit of the weights' digest changed.
  std::ifstream in(testing::demo_model() / "SHA384SUMS");
  std::string manifest((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t line = manifest.find("model.safetensors");
  REQUIRE(line != std::string::npos);
  const size_t digest = manifest.rfind('\n', line) == std::string::npos ? 0 : manifest.rfind('\n', line) + 1;
  manifest[digest] = manifest[digest] == '0' ? '1' : '0';
  std::ofstream(dir / "SHA384SUMS") << manifest;
  check_unusable(dir.path(), {"model.safetensors", "SHA384SUMS"});
}

TEST_CASE("a kv_cache_mb too small for max_batch") {
  EngineOptions o = demo_options(/*max_batch=*/64, /*kv_cache_mb=*/1);
  LocalBackend b(test_info(), o);
  CAPTURE(b.health().reason);
  CHECK_FALSE(b.health().usable);
  CHECK(contains(b.health().reason, "kv_cache_mb"));
  const Outcome out = testing::run(b, chat_request("hi", 2));
  REQUIRE(out.failure.has_value());
  CHECK(out.failure->code == ErrorCode::kUnavailable);
}

// Regression test (it used to fail): LocalBackend::tokenizer() is documented "null when the model failed to
// load", but start_engine() stores the tokenizer before loading the weights,
// so a backend whose weights failed still hands out a tokenizer (and the
// daemon's /tokenize keeps serving for an unusable backend).
TEST_CASE("tokenizer() is null when the model failed to load") {
  TempDir dir;
  link_tokenizer(dir);
  testing::link_model_file(dir.path(), "config.json");
  LocalBackend b(test_info(), options_for(dir.path()));
  REQUIRE_FALSE(b.health().usable);
  CHECK(b.tokenizer() == nullptr);
}

// Regression test (it used to fail): LocalBackend::prepare() dereferences scheduler_ (and tokenizer_)
// without checking that the model loaded: on an unusable backend it crashes
// (null pointer) instead of returning kUnavailable. generate() checks first,
// so only direct callers of the public prepare() hit it.
TEST_CASE("prepare() on a backend whose model failed to load returns an error") {
  TempDir dir;
  link_tokenizer(dir);
  testing::link_model_file(dir.path(), "config.json");
  LocalBackend b(test_info(), options_for(dir.path()));
  REQUIRE_FALSE(b.health().usable);
  auto spec = b.prepare(chat_request("hi", 2));
  REQUIRE_FALSE(spec.has_value());
  CHECK(spec.error().code == ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace dsgw::local
