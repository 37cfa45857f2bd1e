#include "backends/local/engine/scheduler.h"

#include <algorithm>
#include <chrono>

#include "common/log.h"

namespace dsgw::local {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool more_urgent(const std::shared_ptr<Sequence>& a, const std::shared_ptr<Sequence>& b) {
  if (a->spec().priority != b->spec().priority) return a->spec().priority < b->spec().priority;
  return a->arrival < b->arrival;
}

constexpr double kRateWindowSeconds = 1.0;

bool prefilling(const Sequence& s) { return s.cached < static_cast<int64_t>(s.spec().prompt.size()); }

}  // namespace

Scheduler::Scheduler(Transformer model, KvCache cache, int max_queue, int prefill_chunk)
    : model_(std::move(model)),
      cache_(std::move(cache)),
      slot_tokens_(cache_.max_tokens()),
      max_queue_(max_queue),
      prefill_chunk_(std::max(1, prefill_chunk)) {
  for (int s = cache_.slots() - 1; s >= 0; --s) free_slots_.push_back(s);
  free_slot_count_ = cache_.slots();
  memory_ = model_.memory_usage(&cache_);
  rate_window_start_ = now_seconds();
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

Scheduler::~Scheduler() {
  thread_.request_stop();
  wake_.notify_all();
  thread_.join();
}

Status Scheduler::submit(std::shared_ptr<Sequence> sequence) {
  {
    std::lock_guard lock(mutex_);
    // Only what cannot get a free slot waits: those count against max_queue.
    if (pending_count_ + 1 - free_slot_count_ > max_queue_) {
      Error e = make_error(ErrorCode::kOverloaded, "the local engine's queue is full (" +
                                                       std::to_string(max_queue_) + " waiting); retry shortly");
      e.retry_after_seconds = 1;
      return e;
    }
    sequence->arrival = arrivals_++;
    inbox_.push_back(std::move(sequence));
    ++pending_count_;
  }
  wake_.notify_all();
  return Status::ok();
}

EngineStats Scheduler::stats() const {
  std::lock_guard lock(mutex_);
  // A rate is only news while tokens keep coming.
  const bool idle = now_seconds() - last_step_at_ > kRateWindowSeconds * 2;
  return EngineStats{std::max(0, pending_count_ - free_slot_count_), running_count_,
                     idle ? 0.0 : tokens_per_second_, memory_};
}

void Scheduler::take_submissions(std::vector<std::shared_ptr<Sequence>>& waiting) {
  for (auto& s : inbox_) waiting.push_back(std::move(s));
  inbox_.clear();
}

void Scheduler::release_finished() {
  std::erase_if(waiting_, [](const auto& s) {
    if (!s->cancelled()) return false;
    s->fail(make_error(ErrorCode::kCancelled, "cancelled before it started"));
    return true;
  });
  std::erase_if(running_, [this](const auto& s) {
    if (!s->finished() && !s->cancelled()) return false;
    if (!s->finished()) s->fail(make_error(ErrorCode::kCancelled, "cancelled"));
    free_slots_.push_back(s->slot);
    return true;
  });
}

void Scheduler::admit(std::vector<std::shared_ptr<Sequence>>& waiting) {
  while (!free_slots_.empty() && !waiting.empty()) {
    auto best = std::min_element(waiting.begin(), waiting.end(), more_urgent);
    std::shared_ptr<Sequence> s = std::move(*best);
    waiting.erase(best);
    s->slot = free_slots_.back();
    free_slots_.pop_back();
    s->cached = 0;
    running_.push_back(std::move(s));
  }
}

// One chunk of the longest-waiting prompt, so that a long prompt does not
// stall the sequences already decoding.
void Scheduler::prefill_step() {
  auto it = std::find_if(running_.begin(), running_.end(), [](const auto& s) { return prefilling(*s); });
  if (it == running_.end()) return;
  Sequence& s = **it;
  const auto& prompt = s.spec().prompt;
  const int64_t n = std::min<int64_t>(prefill_chunk_, static_cast<int64_t>(prompt.size()) - s.cached);
  auto logits = model_.forward(cache_, s.slot, std::span(prompt).subspan(s.cached, n), s.cached);
  if (!logits) return s.fail(logits.error());
  s.cached += n;
  if (prefilling(s)) return;
  const TokenId token = s.sample(*logits);
  if (s.append(token, s.cached >= slot_tokens_)) s.next_input = token;
  record_tokens(1);
}

void Scheduler::decode_step() {
  std::vector<Sequence*> batch;
  std::vector<int> slots;
  std::vector<TokenId> tokens;
  std::vector<int64_t> positions;
  for (const auto& s : running_) {
    if (prefilling(*s) || s->finished() || s->cancelled()) continue;
    batch.push_back(s.get());
    slots.push_back(s->slot);
    tokens.push_back(s->next_input);
    positions.push_back(s->cached);
  }
  if (batch.empty()) return;
  auto logits = model_.decode(cache_, slots, tokens, positions);
  if (!logits) {
    for (Sequence* s : batch) s->fail(logits.error());
    return;
  }
  const size_t vocab = static_cast<size_t>(model_.vocab_size());
  for (size_t i = 0; i < batch.size(); ++i) {
    Sequence& s = *batch[i];
    ++s.cached;
    const TokenId token = s.sample(logits->subspan(i * vocab, vocab));
    if (s.append(token, s.cached >= slot_tokens_)) s.next_input = token;
  }
  record_tokens(static_cast<int>(batch.size()));
}

void Scheduler::record_tokens(int n) {
  rate_window_tokens_ += n;
  const double now = now_seconds();
  if (now - rate_window_start_ < kRateWindowSeconds) return;
  std::lock_guard lock(mutex_);
  last_step_at_ = now;
  tokens_per_second_ = rate_window_tokens_ / (now - rate_window_start_);
  rate_window_start_ = now;
  rate_window_tokens_ = 0;
}

void Scheduler::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, stop, [&] { return !inbox_.empty() || !running_.empty(); });
      take_submissions(waiting_);
    }
    release_finished();
    admit(waiting_);
    {
      std::lock_guard lock(mutex_);
      pending_count_ = static_cast<int>(waiting_.size() + inbox_.size());
      free_slot_count_ = static_cast<int>(free_slots_.size());
      running_count_ = static_cast<int>(running_.size());
    }
    if (running_.empty()) continue;
    // libtorch reports errors as exceptions; the model turns them into
    // Results, but nothing may escape the engine thread.
    try {
      prefill_step();
      decode_step();
    } catch (const std::exception& e) {
      log::error("engine.exception").kv("error", e.what());
      for (const auto& s : running_) s->fail(make_error(ErrorCode::kInternal, "local engine error"));
    }
  }
  {
    std::lock_guard lock(mutex_);
    take_submissions(waiting_);
  }
  const Error stopped = make_error(ErrorCode::kUnavailable, "the local engine stopped");
  for (const auto& s : waiting_) s->fail(stopped);
  for (const auto& s : running_) s->fail(stopped);
}

}  // namespace dsgw::local
