#include "daemon/runtime.h"

#include <unordered_map>

#include "common/log.h"
#include "daemon/backend_factory.h"
#include "policies/policy_loader.h"
#include "policies/policy_tests.h"

namespace dsgw::daemon {

namespace {

std::shared_ptr<backends::Backend> reusable(const config::BackendConfig& wanted, const LiveConfig* previous) {
  if (!previous || wanted.kind != "local") return nullptr;
  const auto& configs = previous->config.backends;
  for (size_t i = 0; i < configs.size(); ++i) {
    // A model that failed to load gets another try.
    if (configs[i] == wanted && previous->table->backends[i]->health().usable) return previous->table->backends[i];
  }
  return nullptr;
}

}  // namespace

std::vector<policies::BackendFacts> backend_facts(const config::Config& config) {
  std::vector<policies::BackendFacts> facts;
  for (const auto& b : config.backends) facts.push_back({b.name, b.jurisdiction, b.models});
  return facts;
}

Result<std::shared_ptr<const policies::Policy>> load_checked_policy(const config::Config& config) {
  const auto facts = backend_facts(config);
  if (config.policy.file.empty()) return std::make_shared<const policies::Policy>(policies::permissive_policy(facts));
  auto policy = policies::load_policy(config.policy.file, facts);
  if (!policy) return policy.error();
  if (!config.policy.tests.empty()) {
    auto report = policies::run_policy_tests(config.policy.tests, *policy, facts);
    if (!report) return report.error();
    if (!report->failures.empty()) {
      std::string message = std::to_string(report->failures.size()) + " policy test(s) failed:";
      for (const auto& f : report->failures) message += "\n" + f;
      return make_error(ErrorCode::kInvalidRequest, message);
    }
  }
  return std::make_shared<const policies::Policy>(std::move(policy.value()));
}

Result<std::shared_ptr<const LiveConfig>> build_live_config(config::Config config, router::BackendStatsRegistry& stats,
                                                            const LiveConfig* previous) {
  auto policy = load_checked_policy(config);
  if (!policy) return policy.error();
  auto table = std::make_shared<router::RoutingTable>();
  table->policy = std::move(policy.value());
  const policies::Dispatch& dispatch = table->policy->dispatch;
  const router::CircuitBreaker::Options breaker{dispatch.breaker_failures,
                                                std::chrono::milliseconds(dispatch.breaker_cooldown_ms)};
  for (const auto& b : config.backends) {
    table->stats.push_back(stats.get(b.name, breaker));
    if (auto kept = reusable(b, previous)) {
      table->backends.push_back(std::move(kept));
      continue;
    }
    auto backend = make_backend(b);
    if (!backend) return backend.error();
    table->backends.push_back(std::move(backend.value()));
  }
  std::unordered_map<std::string, std::string> keys;
  for (const auto& k : config.api_keys) keys.emplace(k.sha256, k.tenant);
  table->authenticator = router::Authenticator(std::move(keys));
  table->revision = config.revision;

  auto live = std::make_shared<LiveConfig>();
  live->config = std::move(config);
  live->table = std::move(table);
  return std::shared_ptr<const LiveConfig>(std::move(live));
}

Result<std::unique_ptr<Runtime>> Runtime::start(config::Config config) {
  std::unique_ptr<Runtime> runtime(new Runtime());
  auto ledger = router::UsageLedger::open(config.storage.ledger_path());
  if (!ledger) return ledger.error();
  runtime->ledger_ = std::move(ledger.value());
  if (config.storage.audit_log) {
    auto audit = router::AuditLog::open(config.storage.audit_log_path());
    if (!audit) return audit.error();
    runtime->audit_ = std::move(audit.value());
  }
  const int max_inflight = config.server.max_inflight;
  auto live = build_live_config(std::move(config), runtime->stats_);
  if (!live) return live.error();
  runtime->live_.store(std::move(live.value()));
  runtime->pipeline_ = std::make_unique<router::Pipeline>(
      max_inflight, router::Recorders{runtime->ledger_.get(), runtime->audit_.get()});
  return runtime;
}

Status Runtime::reload(std::string_view via) {
  std::lock_guard lock(reload_mutex_);
  Status s = swap_in_reloaded();
  if (!s) {
    log::error("config.reload_failed").kv("error", s.error().message).kv("via", std::string(via));
    return s;
  }
  const auto live = current();
  log::info("config.reloaded")
      .kv("revision", live->config.revision)
      .kv("policy_revision", live->table->policy->revision)
      .kv("via", std::string(via));
  return s;
}

Status Runtime::swap_in_reloaded() {
  const auto old = current();
  auto loaded = config::load(old->config.path);
  if (!loaded) return loaded.error();
  // Only the log level applies live; the rest of [server] is bound at start.
  config::ServerConfig server = old->config.server;
  server.log_level = loaded->server.log_level;
  if (!(server == loaded->server) || !(old->config.storage == loaded->storage)) {
    log::warn("config.restart_required")
        .kv("reason", "[server] settings other than log_level, and [storage], apply at the next start");
  }
  loaded->server = server;
  loaded->storage = old->config.storage;
  auto live = build_live_config(std::move(loaded.value()), stats_, old.get());
  if (!live) return live.error();
  live_.store(std::move(live.value()));
  log::Level level;
  if (log::parse_level(server.log_level, &level)) log::set_level(level);
  return Status::ok();
}

}  // namespace dsgw::daemon
