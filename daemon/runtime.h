// The daemon's state that outlives a config: the pipeline, and the current
// config snapshot, swapped atomically on reload. Requests hold the snapshot
// they started with until they finish.
#pragma once

#include <atomic>
#include <memory>

#include "common/status.h"
#include "daemon/config.h"
#include "router/pipeline.h"
#include "router/routing_table.h"

namespace dsgw::daemon {

struct LiveConfig {
  config::Config config;
  std::shared_ptr<const router::RoutingTable> table;
};

// Builds the backends and the routing table for a validated config. Local
// backends of `previous` whose settings did not change are kept, model and
// all; every other backend is built anew (cheap, and it re-reads key files).
Result<std::shared_ptr<const LiveConfig>> build_live_config(config::Config config,
                                                            const LiveConfig* previous = nullptr);

class Runtime {
 public:
  explicit Runtime(std::shared_ptr<const LiveConfig> initial);

  std::shared_ptr<const LiveConfig> current() const { return live_.load(); }
  router::Pipeline& pipeline() { return pipeline_; }

  // Re-reads the config file; swaps it in if valid, else keeps the current one
  // and returns why. Settings that need a restart are logged and ignored.
  Status reload();

 private:
  std::atomic<std::shared_ptr<const LiveConfig>> live_;
  router::Pipeline pipeline_;
};

}  // namespace dsgw::daemon
