// Hands items to one background thread that writes them in batches, so that a
// request thread never waits on a disk. Used for the usage ledger's rows and
// the audit log's lines.
//
// The writer thread sleeps until an item arrives, lets more gather for
// `gather` (or less: flush(), destruction, or `batch_limit` waiting items cut
// it short), then writes them all with one call. One wake-up per batch, not
// per item: a producer signals only when the thread is idle or the batch is
// full. Destruction writes whatever is queued before the thread ends.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

namespace dsgw {

template <class Item>
class BatchWriter {
 public:
  // Writes a batch in order; returns false if it did not (the writer logs why).
  using WriteFn = std::function<bool(std::vector<Item>& batch)>;

  BatchWriter(std::chrono::milliseconds gather, size_t batch_limit, WriteFn write)
      : gather_(gather), batch_limit_(batch_limit), write_(std::move(write)),
        thread_([this](std::stop_token stop) { run(stop); }) {}

  ~BatchWriter() {
    thread_.request_stop();
    wake_.notify_all();
    thread_.join();  // run() writes what is queued before it returns
  }
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  void push(Item item) {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(item));
    ++pushed_;
    if (idle_ || queue_.size() == batch_limit_) {
      idle_ = false;
      wake_.notify_all();
    }
  }

  // Waits until every item pushed before the call is written. Returns false
  // if a batch failed since the previous flush().
  bool flush() {
    std::unique_lock lock(mutex_);
    wait_written(lock);
    const bool ok = !failed_;
    failed_ = false;
    return ok;
  }

  // As flush(), but leaves a failure for the next flush() to report.
  void wait() {
    std::unique_lock lock(mutex_);
    wait_written(lock);
  }

 private:
  void wait_written(std::unique_lock<std::mutex>& lock) {
    const uint64_t target = pushed_;
    ++flushers_;
    wake_.notify_all();
    done_.wait(lock, [&] { return written_ >= target; });
    --flushers_;
  }

  void run(std::stop_token stop) {
    std::vector<Item> batch;
    std::unique_lock lock(mutex_);
    for (;;) {
      if (queue_.empty()) {
        if (stop.stop_requested()) return;
        idle_ = true;
        wake_.wait(lock, stop, [&] { return !queue_.empty(); });
        idle_ = false;
        continue;
      }
      // Let more items gather unless someone is waiting for these.
      wake_.wait_for(lock, stop, gather_, [&] { return flushers_ > 0 || queue_.size() >= batch_limit_; });
      batch.swap(queue_);
      const uint64_t taken = written_ + batch.size();
      lock.unlock();
      const bool ok = write_(batch);
      batch.clear();
      lock.lock();
      written_ = taken;
      failed_ = failed_ || !ok;
      done_.notify_all();
    }
  }

  const std::chrono::milliseconds gather_;
  const size_t batch_limit_;
  const WriteFn write_;

  std::mutex mutex_;
  std::condition_variable_any wake_;  // for the writer thread
  std::condition_variable done_;      // for flush()
  std::vector<Item> queue_;
  uint64_t pushed_ = 0;   // items ever pushed
  uint64_t written_ = 0;  // items ever handed to write_, in push order
  int flushers_ = 0;
  bool idle_ = false;     // the writer waits for the first item of a batch
  bool failed_ = false;   // a batch failed since the last flush()
  std::jthread thread_;   // last: starts after the state above exists
};

}  // namespace dsgw
