// Backend `kind = "local"`: a DeepSeek-R1 distill run in-process by the
// engine (tokenizer, chat template, libtorch forward pass, sampler and the
// continuous-batching scheduler). A model that fails to load leaves the
// backend present but not usable, with the reason, so that the daemon keeps
// serving its other backends.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/local/engine/engine_options.h"
#include "backends/local/engine/scheduler.h"
#include "backends/local/tokenizer/tokenizer.h"

namespace dsgw::local {

class LocalBackend final : public backends::Backend {
 public:
  // Loads the model (seconds to minutes); logs the outcome.
  LocalBackend(backends::BackendInfo info, EngineOptions options);
  ~LocalBackend() override;

  const backends::BackendInfo& info() const override { return info_; }
  backends::Health health() const override;
  backends::LoadReport load() const override;
  void generate(const router::Request& request, router::EventSink& sink) override;

  // For /tokenize and /detokenize; null when the model failed to load.
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }
  // Engine figures for logs and benchmarks; nullopt when not loaded.
  std::optional<EngineStats> stats() const;
  // The tokens the request's prompt becomes (chat template or raw prompt).
  Result<SequenceSpec> prepare(const router::Request& request) const;

 private:
  // Loads the tokenizer and the model and starts the scheduler.
  Status start_engine();

  backends::BackendInfo info_;
  EngineOptions options_;
  std::string load_error_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::vector<TokenId> end_tokens_;
  TokenId bos_ = 0;
  int32_t vocab_limit_ = 0;
  std::unique_ptr<Scheduler> scheduler_;
};

}  // namespace dsgw::local
