// Helpers for the engine tests: the demo model written by the fixture test
// (tools/make-demo-model.sh: the real R1 tokenizer, tiny random Qwen2
// weights), a thread-safe EventSink that records what a generation emits, and
// a reference greedy decoder that drives the Transformer directly (no
// scheduler) so that the engine's output can be checked token for token.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backends/local/engine/engine_options.h"
#include "backends/local/engine/local_backend.h"
#include "router/events.h"
#include "router/request.h"

namespace dsgw::local::testing {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The fixture model directory.
fs::path demo_model();

// Options for a backend on the demo model: one CPU thread (the test machines
// are shared), fp32, small batch and cache.
EngineOptions demo_options(int max_batch = 4, int64_t kv_cache_mb = 16, int max_queue = 64);

// Backends on the demo model shared by the tests that leave them idle:
// demo_options(4) and demo_options(1) (one sequence at a time).
LocalBackend& shared_backend();
LocalBackend& shared_serial_backend();

// The token ids a Sequence on the demo model samples from, as LocalBackend
// works them out: the tokenizer's, capped at the model's 151,936 rows.
int32_t vocab_limit(const LocalBackend& b);

// Backend info for tests: name "local-test", model "r1-test".
backends::BackendInfo test_info();

// A chat request with one user message.
router::Request chat_request(const std::string& user, std::optional<int> max_tokens,
                             std::optional<double> temperature = 0.0,
                             std::optional<int64_t> seed = std::nullopt);
// A raw /v1/completions request.
router::Request completion_request(const std::string& prompt, std::optional<int> max_tokens,
                                   std::optional<double> temperature = 0.0);

// What one generation emitted, in order, with the invariants of the
// EventSink contract checked as events arrive.
struct Outcome {
  std::string reasoning;
  std::string content;
  int deltas = 0;
  std::optional<router::Usage> usage;
  std::optional<std::string> finish;
  std::optional<Error> failure;
  int terminals = 0;
  std::vector<std::string> violations;  // contract breaches seen (should stay empty)
  std::optional<Clock::time_point> first_event_at;
  std::optional<Clock::time_point> terminal_at;
};

// Thread-safe; what a front door's channel would be. accept_deltas >= 0
// makes emit() return false after that many deltas (a client that went away
// without saying so).
class CollectingSink final : public router::EventSink {
 public:
  explicit CollectingSink(int accept_deltas = -1) : accept_deltas_(accept_deltas) {}

  bool emit(router::Event event) override;
  bool cancelled() const override;
  void on_cancel(std::function<void()> callback) override;

  // The consumer leaves: runs the registered cancel callback.
  void cancel();
  // The consumer is gone without saying so: emit() returns false from now on.
  void refuse();

  Outcome outcome() const;
  // Wait for the first event / the terminal one; false on timeout.
  bool wait_first_event(std::chrono::milliseconds timeout) const;
  bool wait_terminal(std::chrono::milliseconds timeout) const;
  bool has_cancel_callback() const;

 private:
  const int accept_deltas_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  Outcome outcome_;
  bool cancelled_ = false;
  bool refusing_ = false;
  std::function<void()> callback_;
};

// Runs one request to its end on the calling thread.
Outcome run(backends::Backend& backend, const router::Request& request);

// The reference: greedy decoding by hand with Transformer::forward/decode,
// stopping at any of `end_tokens` or after max_new tokens. Returns the
// sampled ids (including a final end token, as the engine counts it).
std::vector<int32_t> reference_greedy(const std::vector<int32_t>& prompt, int64_t max_new,
                                      const std::vector<int32_t>& end_tokens, int32_t vocab_limit);

// Decoded text of `ids` without special tokens (what the engine emits).
std::string decode_text(const LocalBackend& backend, const std::vector<int32_t>& ids);

// A fresh directory under the temp dir, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

// Symlinks (or copies, for files a test will damage) the demo model's files.
void link_model_file(const fs::path& to_dir, const std::string& name);
void copy_model_file(const fs::path& to_dir, const std::string& name);

// The ids `name` (an added token's content) has in the demo tokenizer.
int32_t token_id(const LocalBackend& backend, std::string_view name);

}  // namespace dsgw::local::testing
