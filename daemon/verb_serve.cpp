#include <iostream>
#include <thread>

#include "common/log.h"
#include "daemon/cli.h"
#include "daemon/config_watch.h"
#include "daemon/http_server.h"
#include "daemon/runtime.h"
#include "daemon/signals.h"
#include "daemon/systemd_notify.h"

#ifdef DSGW_WITH_LOCAL_ENGINE
#include "backends/local/model/openblas_core.h"
#endif

namespace dsgw::daemon {
namespace {

void reload(Runtime& runtime, std::string_view via) {
  sd_notify("RELOADING=1");
  (void)runtime.reload(via);  // logs its outcome; a failed one keeps the old config
  sd_notify("READY=1");
}

}  // namespace

int run_serve(const std::vector<std::string>& args) {
  Options opts;
  if (auto err = parse_options(args, {"config"}, opts)) {
    std::cerr << "dsgw serve: " << *err << "\n";
    return 2;
  }
  if (opts.help || !opts.values.count("config")) {
    (opts.help ? std::cout : std::cerr) << verbs()[0].usage;
    return opts.help ? 0 : 2;
  }
#ifdef DSGW_WITH_LOCAL_ENGINE
  if (auto problem = local::rerun_with_fitting_openblas_core())
    log::warn("engine.blas_rerun_failed").kv("error", *problem);
#endif
  const Signals signals;

  auto cfg = config::load(opts.values["config"]);
  if (!cfg) {
    log::error("config.invalid").kv("error", cfg.error().message);
    return 1;
  }
  log::Level level;
  if (log::parse_level(cfg->server.log_level, &level)) log::set_level(level);
  const config::ServerConfig server_settings = cfg->server;
  auto started = Runtime::start(std::move(cfg.value()));
  if (!started) {
    log::error("config.invalid").kv("error", started.error().message);
    return 1;
  }
  Runtime& runtime = *started.value();
  ConfigWatch watch(runtime.current()->config);
  HttpServer http(runtime, server_settings);
  auto port = http.bind();
  if (!port) {
    log::error("server.bind_failed").kv("error", port.error().message);
    return 1;
  }
  std::jthread serving([&http] { http.serve(); });
  log::info("server.listening")
      .kv("host", server_settings.host)
      .kv("port", port.value())
      .kv("revision", runtime.current()->config.revision)
      .kv("policy_revision", runtime.current()->table->policy->revision)
      .kv("backends", runtime.current()->table->backends.size());
  sd_notify("READY=1");

  const auto watchdog = watchdog_interval();
  const auto tick = watchdog.value_or(std::chrono::milliseconds(1000));
  for (;;) {
    const Signal sig = signals.wait(tick);
    if (sig == Signal::kStop) break;
    if (sig == Signal::kReload || watch.changed()) {
      reload(runtime, sig == Signal::kReload ? "signal" : "file");
      watch.reset(runtime.current()->config);
    }
    if (watchdog) sd_notify("WATCHDOG=1");
  }

  sd_notify("STOPPING=1");
  log::info("server.draining")
      .kv("in_flight", runtime.pipeline().in_flight())
      .kv("grace_ms", static_cast<int64_t>(server_settings.shutdown_grace.count()));
  http.stop(server_settings.shutdown_grace);
  serving.join();
  log::info("server.stopped");
  return 0;
}

}  // namespace dsgw::daemon
