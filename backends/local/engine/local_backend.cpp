#include "backends/local/engine/local_backend.h"

#include <algorithm>

#include "backends/local/chat/chat_template.h"
#include "common/log.h"

namespace dsgw::local {
namespace {

constexpr std::chrono::milliseconds kPollInterval{100};
constexpr int64_t kMinSlotTokens = 64;
// Below this many mapped bytes of weights (the tests' tiny models) the page
// size makes no difference worth a warning.
constexpr std::size_t kSmallPagesWarnBytes = std::size_t{256} << 20;

// The prompt's tokens: specials by id, text without parsing special tokens
// (so that a user cannot forge a turn marker).
Result<std::vector<TokenId>> encode_segments(const Tokenizer& tokenizer,
                                             const std::vector<PromptSegment>& segments) {
  std::vector<TokenId> out;
  for (const auto& seg : segments) {
    if (seg.kind == PromptSegment::kSpecial) {
      auto id = tokenizer.token_to_id(seg.text);
      if (!id) {
        return make_error(ErrorCode::kInternal, "the model's tokenizer has no \"" + seg.text +
                                                    "\" token: is this a DeepSeek-R1 distill?");
      }
      out.push_back(*id);
    } else {
      auto ids = tokenizer.encode(seg.text, /*parse_special=*/false);
      if (!ids) return ids.error();
      out.insert(out.end(), ids->begin(), ids->end());
    }
  }
  return out;
}

}  // namespace

LocalBackend::LocalBackend(backends::BackendInfo info, EngineOptions options)
    : info_(std::move(info)), options_(std::move(options)) {
  if (Status s = start_engine(); !s) {
    load_error_ = s.error().message;
    log::error("engine.load_failed").kv("backend", info_.name).kv("error", load_error_);
  }
}

Status LocalBackend::start_engine() {
  auto tokenizer = Tokenizer::load(options_.model_dir);
  if (!tokenizer) return tokenizer.error();

  LoadOptions load;
  load.device = options_.device;
  load.dtype = resolve_dtype(options_);
  load.threads = options_.threads;
  load.prefill_chunk = options_.prefill_chunk;
  auto model = Transformer::load(options_.model_dir, load);
  if (!model) return model.error();

  // The KV-cache bound decides how long each of max_batch sequences may get.
  auto probe = model->make_kv_cache(1, 1);
  if (!probe) return probe.error();
  const int64_t per_token = static_cast<int64_t>(probe->bytes());
  const int64_t budget = options_.kv_cache_mb * (int64_t{1} << 20);
  const int64_t slot_tokens = std::min(model->max_context(), budget / (options_.max_batch * per_token));
  if (slot_tokens < kMinSlotTokens) {
    return make_error(ErrorCode::kInvalidRequest,
                      "kv_cache_mb = " + std::to_string(options_.kv_cache_mb) + " leaves " +
                          std::to_string(slot_tokens) + " tokens per sequence for max_batch = " +
                          std::to_string(options_.max_batch) + "; raise kv_cache_mb or lower max_batch");
  }
  auto cache = model->make_kv_cache(options_.max_batch, slot_tokens);
  if (!cache) return cache.error();

  vocab_limit_ = static_cast<int32_t>(std::min<int64_t>(tokenizer->vocab_size(), model->vocab_size()));
  if (auto eos = tokenizer->eos_id()) end_tokens_.push_back(*eos);
  if (auto eos = model->config().eos_token_id) {
    if (std::find(end_tokens_.begin(), end_tokens_.end(), *eos) == end_tokens_.end()) {
      end_tokens_.push_back(static_cast<TokenId>(*eos));
    }
  }
  bos_ = tokenizer->bos_id().value_or(tokenizer->token_to_id(kBosToken).value_or(0));
  const std::string description = model->describe();
  // Both or neither: a backend whose model failed to load has no tokenizer.
  tokenizer_ = std::make_unique<Tokenizer>(std::move(tokenizer.value()));
  scheduler_ = std::make_unique<Scheduler>(std::move(model.value()), std::move(cache.value()),
                                           options_.max_queue, options_.prefill_chunk);
  const EngineStats s = scheduler_->stats();
  log::info("engine.loaded")
      .kv("backend", info_.name)
      .kv("model", description)
      .kv("max_batch", options_.max_batch)
      .kv("tokens_per_sequence", slot_tokens)
      .kv("weight_bytes", s.memory.weight_bytes)
      .kv("kv_cache_bytes", s.memory.kv_cache_bytes);
  // Mapped weights mostly on 4 KB pages: see the README's troubleshooting.
  const std::size_t mapped = s.memory.mapped_weight_bytes;
  if (mapped >= kSmallPagesWarnBytes && s.memory.mapped_huge_page_bytes < mapped / 2) {
    log::warn("engine.small_pages")
        .kv("backend", info_.name)
        .kv("mapped_bytes", mapped)
        .kv("on_2mb_pages_bytes", s.memory.mapped_huge_page_bytes)
        .kv("hint",
            "decode may run up to 1.5x slower; if the model files were just written (downloaded or copied), "
            "drop them from the page cache (dd if=FILE iflag=nocache count=0) and restart");
  }
  return Status::ok();
}

LocalBackend::~LocalBackend() = default;

backends::Health LocalBackend::health() const {
  if (!scheduler_) return {false, "model failed to load: " + load_error_};
  return {true, ""};
}

backends::LoadReport LocalBackend::load() const {
  if (!scheduler_) return {};
  const EngineStats s = scheduler_->stats();
  return {s.waiting, s.running, s.tokens_per_second};
}

std::optional<EngineStats> LocalBackend::stats() const {
  if (!scheduler_) return std::nullopt;
  return scheduler_->stats();
}

Result<SequenceSpec> LocalBackend::prepare(const router::Request& request) const {
  if (!scheduler_) {
    return make_error(ErrorCode::kUnavailable,
                      "backend \"" + info_.name + "\" is not usable: model failed to load: " + load_error_);
  }
  SequenceSpec spec;
  if (request.endpoint == router::Endpoint::kChat) {
    auto prompt = render_chat_prompt(request.messages);
    if (!prompt) return prompt.error();
    auto ids = encode_segments(*tokenizer_, prompt->segments);
    if (!ids) return ids.error();
    spec.prompt = std::move(ids.value());
    spec.start = prompt->start;
  } else {
    // A raw completion: the caller writes special tokens deliberately.
    auto ids = tokenizer_->encode(request.prompt, /*parse_special=*/true);
    if (!ids) return ids.error();
    spec.prompt.push_back(bos_);
    spec.prompt.insert(spec.prompt.end(), ids->begin(), ids->end());
    spec.split_reasoning = false;
  }
  const int64_t context = scheduler_->slot_tokens();
  const int64_t prompt_tokens = static_cast<int64_t>(spec.prompt.size());
  if (prompt_tokens >= context) {
    return make_error(ErrorCode::kContextLengthExceeded,
                      "the prompt has " + std::to_string(prompt_tokens) +
                          " tokens but the context of model \"" + request.model + "\" here is " +
                          std::to_string(context) + " tokens (prompt and answer together)",
                      request.endpoint == router::Endpoint::kChat ? "messages" : "prompt");
  }
  spec.max_new_tokens = context - prompt_tokens;
  if (request.sampling.max_tokens)
    spec.max_new_tokens = std::min<int64_t>(spec.max_new_tokens, *request.sampling.max_tokens);
  spec.sampling = request.sampling;
  spec.priority = request.hints.priority.value_or(options_.default_priority);
  spec.end_tokens = end_tokens_;
  return spec;
}

void LocalBackend::generate(const router::Request& request, router::EventSink& sink) {
  auto spec = prepare(request);
  if (!spec) {
    sink.emit(router::Failure{spec.error()});
    return;
  }
  auto sequence = std::make_shared<Sequence>(std::move(spec.value()), *tokenizer_, vocab_limit_);
  if (Status s = scheduler_->submit(sequence); !s) {
    sink.emit(router::Failure{s.error()});
    return;
  }
  sink.on_cancel([sequence] { sequence->cancel(); });
  router::Event event;
  for (bool done = false; !done;) {
    switch (sequence->events().pop(event, kPollInterval)) {
      case router::EventChannel::PopResult::kEvent: {
        done = router::is_terminal(event);
        if (!sink.emit(std::move(event))) {
          sequence->cancel();
          done = true;
        }
        break;
      }
      case router::EventChannel::PopResult::kTimeout:
        if (sink.cancelled()) {
          sequence->cancel();
          done = true;
        }
        break;
      case router::EventChannel::PopResult::kClosed:
        done = true;
        break;
    }
  }
  sink.on_cancel({});
}

}  // namespace dsgw::local
