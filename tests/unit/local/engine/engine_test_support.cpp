#include "tests/unit/local/engine/engine_test_support.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <stdexcept>
#include <variant>

#include "backends/local/model/transformer.h"

namespace dsgw::local::testing {

fs::path demo_model() { return fs::path(DSGW_ENGINE_FIXTURE); }

EngineOptions demo_options(int max_batch, int64_t kv_cache_mb, int max_queue) {
  EngineOptions o;
  o.model_dir = demo_model();
  o.dtype = DType::kFloat32;
  o.max_batch = max_batch;
  o.kv_cache_mb = kv_cache_mb;
  o.max_queue = max_queue;
  o.prefill_chunk = 64;
  o.threads = 1;
  return o;
}

LocalBackend& shared_backend() {
  static LocalBackend backend(test_info(), demo_options(/*max_batch=*/4));
  return backend;
}

LocalBackend& shared_serial_backend() {
  static LocalBackend backend(test_info(), demo_options(/*max_batch=*/1));
  return backend;
}

int32_t vocab_limit(const LocalBackend& b) {
  constexpr std::size_t kDemoModelVocab = 151936;  // tools/make-demo-model.sh --vocab
  return static_cast<int32_t>(std::min(b.tokenizer()->vocab_size(), kDemoModelVocab));
}

backends::BackendInfo test_info() { return {"local-test", "local", "device", {"r1-test"}}; }

router::Request chat_request(const std::string& user, std::optional<int> max_tokens,
                             std::optional<double> temperature, std::optional<int64_t> seed) {
  router::Request r;
  r.id = "test";
  r.endpoint = router::Endpoint::kChat;
  r.model = "r1-test";
  r.messages.push_back({"user", user, ""});
  r.sampling.max_tokens = max_tokens;
  r.sampling.temperature = temperature;
  r.sampling.seed = seed;
  return r;
}

router::Request completion_request(const std::string& prompt, std::optional<int> max_tokens,
                                   std::optional<double> temperature) {
  router::Request r;
  r.id = "test";
  r.endpoint = router::Endpoint::kCompletion;
  r.model = "r1-test";
  r.prompt = prompt;
  r.sampling.max_tokens = max_tokens;
  r.sampling.temperature = temperature;
  return r;
}

bool CollectingSink::emit(router::Event event) {
  std::lock_guard lock(mutex_);
  Outcome& o = outcome_;
  if (!o.first_event_at) o.first_event_at = Clock::now();
  if (o.terminals > 0) o.violations.push_back("an event after the terminal one");
  if (auto* d = std::get_if<router::Delta>(&event)) {
    if (o.usage) o.violations.push_back("a delta after the usage");
    if (d->reasoning.empty() && d->content.empty()) o.violations.push_back("an empty delta");
    o.reasoning += d->reasoning;
    o.content += d->content;
    ++o.deltas;
  } else if (auto* u = std::get_if<router::Usage>(&event)) {
    if (o.usage) o.violations.push_back("two usage events");
    o.usage = *u;
  } else if (auto* f = std::get_if<router::Finish>(&event)) {
    if (!o.usage) o.violations.push_back("finish without usage before it");
    o.finish = f->reason;
    ++o.terminals;
    o.terminal_at = Clock::now();
  } else if (auto* e = std::get_if<router::Failure>(&event)) {
    o.failure = e->error;
    ++o.terminals;
    o.terminal_at = Clock::now();
  }
  changed_.notify_all();
  if (cancelled_ || refusing_) return false;
  if (accept_deltas_ >= 0 && o.deltas > accept_deltas_) return false;
  return true;
}

bool CollectingSink::cancelled() const {
  std::lock_guard lock(mutex_);
  return cancelled_;
}

void CollectingSink::on_cancel(std::function<void()> callback) {
  std::unique_lock lock(mutex_);
  if (cancelled_ && callback) {
    lock.unlock();
    callback();
    return;
  }
  callback_ = std::move(callback);
}

void CollectingSink::cancel() {
  std::function<void()> callback;
  {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
    callback = std::move(callback_);
    callback_ = nullptr;
  }
  changed_.notify_all();
  if (callback) callback();
}

void CollectingSink::refuse() {
  std::lock_guard lock(mutex_);
  refusing_ = true;
}

bool CollectingSink::has_cancel_callback() const {
  std::lock_guard lock(mutex_);
  return static_cast<bool>(callback_);
}

Outcome CollectingSink::outcome() const {
  std::lock_guard lock(mutex_);
  return outcome_;
}

bool CollectingSink::wait_first_event(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return outcome_.first_event_at.has_value(); });
}

bool CollectingSink::wait_terminal(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return outcome_.terminals > 0; });
}

Outcome run(backends::Backend& backend, const router::Request& request) {
  CollectingSink sink;
  backend.generate(request, sink);
  return sink.outcome();
}

namespace {

Transformer& reference_model() {
  static Transformer model = [] {
    LoadOptions o;
    o.dtype = DType::kFloat32;
    o.threads = 1;
    o.prefill_chunk = 64;
    auto t = Transformer::load(demo_model(), o);
    if (!t) throw std::runtime_error("reference model: " + t.error().message);
    return std::move(t.value());
  }();
  return model;
}

int32_t argmax(std::span<const float> logits, int32_t limit) {
  int32_t best = 0;
  for (int32_t i = 1; i < limit; ++i) {
    if (logits[static_cast<size_t>(i)] > logits[static_cast<size_t>(best)]) best = i;
  }
  return best;
}

}  // namespace

std::vector<int32_t> reference_greedy(const std::vector<int32_t>& prompt, int64_t max_new,
                                      const std::vector<int32_t>& end_tokens, int32_t vocab_limit) {
  Transformer& model = reference_model();
  const int64_t slot_tokens = static_cast<int64_t>(prompt.size()) + max_new + 1;
  auto cache = model.make_kv_cache(1, slot_tokens);
  if (!cache) throw std::runtime_error("reference cache: " + cache.error().message);
  std::vector<int32_t> out;
  auto logits = model.forward(*cache, 0, prompt, 0);
  if (!logits) throw std::runtime_error("reference forward: " + logits.error().message);
  int64_t pos = static_cast<int64_t>(prompt.size());
  while (true) {
    const int32_t token = argmax(*logits, vocab_limit);
    out.push_back(token);
    if (std::find(end_tokens.begin(), end_tokens.end(), token) != end_tokens.end()) break;
    if (static_cast<int64_t>(out.size()) >= max_new) break;
    const int slot = 0;
    logits = model.decode(*cache, std::span(&slot, 1), std::span(&token, 1), std::span(&pos, 1));
    if (!logits) throw std::runtime_error("reference decode: " + logits.error().message);
    ++pos;
  }
  return out;
}

std::string decode_text(const LocalBackend& backend, const std::vector<int32_t>& ids) {
  auto text = backend.tokenizer()->decode(ids, /*skip_special=*/true);
  if (!text) throw std::runtime_error("decode: " + text.error().message);
  return *text;
}

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  path_ = fs::temp_directory_path() / ("dsgw-engine-test-" + std::to_string(::getpid()) + "-" +
                                       std::to_string(counter++) + "-" + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void link_model_file(const fs::path& to_dir, const std::string& name) {
  fs::create_symlink(demo_model() / name, to_dir / name);
}

void copy_model_file(const fs::path& to_dir, const std::string& name) {
  fs::copy_file(demo_model() / name, to_dir / name, fs::copy_options::overwrite_existing);
}

int32_t token_id(const LocalBackend& backend, std::string_view name) {
  auto id = backend.tokenizer()->token_to_id(name);
  if (!id) throw std::runtime_error("no token " + std::string(name));
  return *id;
}

}  // namespace dsgw::local::testing
