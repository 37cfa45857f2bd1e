// The engine thread: owns the model and its KV cache, and runs every local
// generation through continuous batching. Each step it admits waiting
// sequences into free slots (most urgent first), prefills one chunk of one
// prompt, then decodes one token for every running sequence. Sequences join
// and leave the batch at every step; a cancelled one frees its slot at the
// next step.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "backends/local/engine/engine_options.h"
#include "backends/local/engine/sequence.h"
#include "backends/local/model/transformer.h"
#include "common/status.h"

namespace dsgw::local {

struct EngineStats {
  int waiting = 0;
  int running = 0;
  double tokens_per_second = 0;  // generated tokens, recent rate
  MemoryUsage memory;
};

class Scheduler {
 public:
  // Takes the model; the KV cache gets `slots` x `slot_tokens` positions.
  Scheduler(Transformer model, KvCache cache, int max_queue, int prefill_chunk);
  ~Scheduler();  // fails what is still queued or running, joins the thread
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a sequence. kOverloaded when max_queue sequences already wait.
  Status submit(std::shared_ptr<Sequence> sequence);

  EngineStats stats() const;
  int64_t slot_tokens() const { return slot_tokens_; }

 private:
  void run(std::stop_token stop);
  void take_submissions(std::vector<std::shared_ptr<Sequence>>& waiting);
  void release_finished();
  void admit(std::vector<std::shared_ptr<Sequence>>& waiting);
  void prefill_step();
  void decode_step();
  void record_tokens(int n);

  Transformer model_;
  KvCache cache_;
  const int64_t slot_tokens_;
  const int max_queue_;
  const int prefill_chunk_;

  // Shared with request threads.
  mutable std::mutex mutex_;
  std::condition_variable_any wake_;
  std::vector<std::shared_ptr<Sequence>> inbox_;
  int pending_count_ = 0;    // submitted, not yet in a slot
  int free_slot_count_ = 0;  // as of the engine's last step
  int running_count_ = 0;
  double tokens_per_second_ = 0;
  double last_step_at_ = 0;  // when tokens_per_second_ was last measured
  MemoryUsage memory_;

  // Engine thread only.
  std::vector<std::shared_ptr<Sequence>> waiting_;
  std::vector<std::shared_ptr<Sequence>> running_;  // each holds a slot
  std::vector<int> free_slots_;
  uint64_t arrivals_ = 0;
  double rate_window_start_ = 0;
  int rate_window_tokens_ = 0;

  std::jthread thread_;  // last: starts after everything above exists
};

}  // namespace dsgw::local
