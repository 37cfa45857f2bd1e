#include "router/circuit_breaker.h"

#include <algorithm>

namespace dsgw::router {

CircuitBreaker::CircuitBreaker() : CircuitBreaker(Options{}) {}

CircuitBreaker::CircuitBreaker(Options options)
    : options_{std::max(options.failure_threshold, 1), options.cooldown} {}

bool CircuitBreaker::allow(Clock::time_point now) {
  std::lock_guard lock(mu_);
  switch (state_) {
    case State::kClosed:
      return true;
    case State::kOpen:
      if (now - opened_at_ < options_.cooldown) return false;
      state_ = State::kHalfOpen;
      probe_out_ = true;
      return true;
    case State::kHalfOpen:
      if (probe_out_) return false;
      probe_out_ = true;
      return true;
  }
  return false;
}

void CircuitBreaker::on_success() {
  std::lock_guard lock(mu_);
  if (state_ == State::kOpen) return;
  state_ = State::kClosed;
  failures_ = 0;
  probe_out_ = false;
}

void CircuitBreaker::on_failure(Clock::time_point now) {
  std::lock_guard lock(mu_);
  switch (state_) {
    case State::kClosed:
      if (++failures_ < options_.failure_threshold) return;
      break;
    case State::kHalfOpen:
      break;
    case State::kOpen:
      return;
  }
  state_ = State::kOpen;
  opened_at_ = now;
  failures_ = 0;
  probe_out_ = false;
}

void CircuitBreaker::on_abandoned() {
  std::lock_guard lock(mu_);
  if (state_ == State::kHalfOpen) probe_out_ = false;
}

CircuitBreaker::State CircuitBreaker::state(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  if (state_ == State::kOpen && now - opened_at_ >= options_.cooldown) return State::kHalfOpen;
  return state_;
}

std::string_view CircuitBreaker::name(State state) {
  switch (state) {
    case State::kClosed:
      return "closed";
    case State::kOpen:
      return "open";
    case State::kHalfOpen:
      return "half_open";
  }
  return "unknown";
}

}  // namespace dsgw::router
