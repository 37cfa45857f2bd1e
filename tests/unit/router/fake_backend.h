// A Backend for router and policy tests: fixed info and health, and a
// generate() that runs whatever the test installs.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace dsgw::test {

class FakeBackend final : public backends::Backend {
 public:
  using Generate = std::function<void(const router::Request&, router::EventSink&)>;

  FakeBackend(std::string name, std::vector<std::string> models, backends::Health health = {})
      : info_{std::move(name), "fake", "lan", std::move(models)}, health_(std::move(health)) {}

  const backends::BackendInfo& info() const override { return info_; }
  backends::Health health() const override { return health_; }

  // Default: one Delta with content "hello from <name>", then Finish "stop".
  void generate(const router::Request& request, router::EventSink& sink) override {
    {
      std::lock_guard lock(mutex_);
      last_request_ = request;
    }
    ++calls_;
    if (on_generate_) {
      on_generate_(request, sink);
      return;
    }
    router::Delta d;
    d.content = "hello from " + info_.name;
    if (sink.emit(std::move(d))) sink.emit(router::Finish{"stop"});
  }

  void set_generate(Generate g) { on_generate_ = std::move(g); }
  int calls() const { return calls_.load(); }
  router::Request last_request() const {
    std::lock_guard lock(mutex_);
    return last_request_;
  }

 private:
  backends::BackendInfo info_;
  backends::Health health_;
  Generate on_generate_;
  std::atomic<int> calls_{0};
  mutable std::mutex mutex_;
  router::Request last_request_;
};

inline std::shared_ptr<FakeBackend> make_fake(std::string name, std::vector<std::string> models,
                                              bool usable = true, std::string reason = {}) {
  return std::make_shared<FakeBackend>(std::move(name), std::move(models),
                                       backends::Health{usable, std::move(reason)});
}

}  // namespace dsgw::test
