// Bounds the generations in flight. A request that finds no room is refused at
// once (429) instead of queueing behind the others.
#pragma once

#include <atomic>
#include <optional>

namespace dsgw::router {

class Admission {
 public:
  explicit Admission(int capacity) : capacity_(capacity) {}

  // Holds one place until destroyed.
  class Permit {
   public:
    Permit(Permit&& other) noexcept : owner_(other.owner_) { other.owner_ = nullptr; }
    Permit& operator=(Permit&&) = delete;
    ~Permit() {
      if (owner_) owner_->in_flight_.fetch_sub(1, std::memory_order_acq_rel);
    }

   private:
    friend class Admission;
    explicit Permit(Admission* owner) : owner_(owner) {}
    Admission* owner_;
  };

  std::optional<Permit> try_acquire() {
    int now = in_flight_.load(std::memory_order_relaxed);
    while (now < capacity_) {
      if (in_flight_.compare_exchange_weak(now, now + 1, std::memory_order_acq_rel)) {
        return Permit(this);
      }
    }
    return std::nullopt;
  }

  int in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  int capacity() const { return capacity_; }

 private:
  const int capacity_;
  std::atomic<int> in_flight_{0};
};

}  // namespace dsgw::router
