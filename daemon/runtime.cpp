#include "daemon/runtime.h"

#include <unordered_map>

#include "common/log.h"
#include "daemon/backend_factory.h"

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

Result<std::shared_ptr<const LiveConfig>> build_live_config(config::Config config, const LiveConfig* previous) {
  auto table = std::make_shared<router::RoutingTable>();
  for (const auto& b : config.backends) {
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

Runtime::Runtime(std::shared_ptr<const LiveConfig> initial)
    : live_(initial), pipeline_(initial->config.server.max_inflight) {}

Status Runtime::reload() {
  const auto old = current();
  auto loaded = config::load(old->config.path);
  if (!loaded) return loaded.error();
  // Only the log level applies live; the rest of [server] is bound at start.
  config::ServerConfig server = old->config.server;
  server.log_level = loaded->server.log_level;
  if (!(server == loaded->server)) {
    log::warn("config.restart_required")
        .kv("reason", "[server] settings other than log_level apply at the next start");
  }
  loaded->server = server;
  auto live = build_live_config(std::move(loaded.value()), old.get());
  if (!live) return live.error();
  live_.store(std::move(live.value()));
  log::Level level;
  if (log::parse_level(server.log_level, &level)) log::set_level(level);
  return Status::ok();
}

}  // namespace dsgw::daemon
