// The daemon's state that outlives a config: the pipeline, what it records
// into (usage ledger, audit log), what it learns about backends, and the
// current config snapshot, swapped atomically on reload. Requests hold the
// snapshot they started with until they finish.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string_view>

#include "common/status.h"
#include "daemon/config.h"
#include "policies/policy.h"
#include "router/audit_log.h"
#include "router/backend_stats.h"
#include "router/pipeline.h"
#include "router/routing_table.h"
#include "router/usage_ledger.h"

namespace dsgw::daemon {

struct LiveConfig {
  config::Config config;
  std::shared_ptr<const router::RoutingTable> table;
};

// What the policy needs to know of the config's backends, in config order.
std::vector<policies::BackendFacts> backend_facts(const config::Config& config);

// The policy `config` names (or the permissive built-in one), with its tests
// run: failing tests are an error listing each failure.
Result<std::shared_ptr<const policies::Policy>> load_checked_policy(const config::Config& config);

// Builds the backends, the policy and the routing table for a validated
// config. Local backends of `previous` whose settings did not change are
// kept, model and all; every other backend is built anew (cheap, and it
// re-reads key files).
Result<std::shared_ptr<const LiveConfig>> build_live_config(config::Config config, router::BackendStatsRegistry& stats,
                                                            const LiveConfig* previous = nullptr);

class Runtime {
 public:
  // Opens the state directory's ledger and audit log and builds the first
  // live config.
  static Result<std::unique_ptr<Runtime>> start(config::Config config);

  std::shared_ptr<const LiveConfig> current() const { return live_.load(); }
  router::Pipeline& pipeline() { return *pipeline_; }
  const router::UsageLedger* ledger() const { return ledger_.get(); }

  // Re-reads the config and policy; swaps them in if valid and the policy
  // tests pass, else keeps the current ones and returns why. Settings that
  // need a restart are logged and ignored. Logs config.reloaded or
  // config.reload_failed with `via` (signal, file, http). Thread-safe (one at a time).
  Status reload(std::string_view via);

 private:
  Runtime() = default;
  Status swap_in_reloaded();  // reload() without the logging; reload_mutex_ held

  std::mutex reload_mutex_;
  router::BackendStatsRegistry stats_;
  std::unique_ptr<router::UsageLedger> ledger_;
  std::unique_ptr<router::AuditLog> audit_;
  std::atomic<std::shared_ptr<const LiveConfig>> live_;
  std::unique_ptr<router::Pipeline> pipeline_;  // destroyed first: joins running requests
};

}  // namespace dsgw::daemon
