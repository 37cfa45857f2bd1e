// A configured backend that cannot run anything, with the reason: what the
// factory builds for `kind = "local"` in a dsgw built without libtorch, so
// that the config still loads and the other backends still serve.
#pragma once

#include <string>

#include "backends/backend.h"

namespace dsgw::backends {

class UnusableBackend final : public Backend {
 public:
  UnusableBackend(BackendInfo info, std::string reason) : info_(std::move(info)), reason_(std::move(reason)) {}

  const BackendInfo& info() const override { return info_; }
  Health health() const override { return {false, reason_}; }
  void generate(const router::Request&, router::EventSink& sink) override {
    sink.emit(router::Failure{
        make_error(ErrorCode::kUnavailable, "backend \"" + info_.name + "\" is not usable: " + reason_)});
  }

 private:
  BackendInfo info_;
  std::string reason_;
};

}  // namespace dsgw::backends
