// `dsgw policy test` and `dsgw route explain`: the policy, offline.
#include <fstream>
#include <iostream>
#include <sstream>

#include "daemon/cli.h"
#include "daemon/config.h"
#include "daemon/openai_request.h"
#include "daemon/runtime.h"
#include "policies/explain.h"
#include "policies/policy_loader.h"
#include "policies/policy_tests.h"
#include "policies/request_facts.h"

namespace dsgw::daemon {
namespace {

constexpr const char* kDefaultConfig = "config/dsgw.toml";

// The config and its policy (without running the policy's tests).
struct Loaded {
  config::Config config;
  policies::Policy policy;
};

std::optional<Loaded> load_config_and_policy(const std::string& path) {
  auto cfg = config::load(path);
  if (!cfg) {
    std::cerr << cfg.error().message << "\n";
    return std::nullopt;
  }
  const auto facts = backend_facts(*cfg);
  if (cfg->policy.file.empty()) return Loaded{std::move(cfg.value()), policies::permissive_policy(facts)};
  auto policy = policies::load_policy(cfg->policy.file, facts);
  if (!policy) {
    std::cerr << policy.error().message << "\n";
    return std::nullopt;
  }
  return Loaded{std::move(cfg.value()), std::move(policy.value())};
}

int policy_test(const Options& opts) {
  const std::string config_path = opts.values.count("config") ? opts.values.at("config") : kDefaultConfig;
  auto loaded = load_config_and_policy(config_path);
  if (!loaded) return 1;
  std::string tests = opts.positional.size() > 1 ? opts.positional[1] : loaded->config.policy.tests;
  if (tests.empty()) {
    std::cerr << "dsgw policy test: no tests file given, and " << config_path << " names none ([policy] tests)\n";
    return 2;
  }
  auto report = policies::run_policy_tests(tests, loaded->policy, backend_facts(loaded->config));
  if (!report) {
    std::cerr << report.error().message << "\n";
    return 1;
  }
  for (const auto& f : report->failures) std::cout << "FAIL " << f << "\n";
  std::cout << tests << ": " << report->cases << " cases, " << report->failures.size() << " failed (policy "
            << loaded->policy.path << ", revision " << loaded->policy.revision << ")\n";
  return report->failures.empty() ? 0 : 1;
}

int route_explain(const Options& opts) {
  if (opts.positional.size() < 2) {
    std::cerr << "dsgw route explain: give the request file (an OpenAI chat request, JSON); - reads stdin\n";
    return 2;
  }
  const std::string config_path = opts.values.count("config") ? opts.values.at("config") : kDefaultConfig;
  auto loaded = load_config_and_policy(config_path);
  if (!loaded) return 1;
  const std::string& file = opts.positional[1];
  std::stringstream body;
  if (file == "-") {
    body << std::cin.rdbuf();
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::cerr << "dsgw route explain: cannot read " << file << "\n";
      return 1;
    }
    body << in.rdbuf();
  }
  auto request = parse_openai_request(body.str(), router::Endpoint::kChat);
  if (!request) {
    std::cerr << file << ": " << request.error().message << "\n";
    return 1;
  }
  request->tenant = opts.values.count("tenant") ? opts.values.at("tenant") : "anonymous";
  if (opts.values.count("device")) request->device = opts.values.at("device");
  if (opts.values.count("data-class")) request->hints.data_class = opts.values.at("data-class");
  const policies::pii::Detector detector;
  auto facts = policies::extract_facts(*request, loaded->policy, detector);
  if (!facts) {
    std::cerr << file << ": " << facts.error().message << "\n";
    return 1;
  }
  std::vector<std::string> down;
  if (opts.values.count("down")) {
    std::stringstream names(opts.values.at("down"));
    for (std::string name; std::getline(names, name, ',');) down.push_back(name);
  }
  const auto facts_of_backends = backend_facts(loaded->config);
  const auto states = policies::offline_states(loaded->policy, facts_of_backends, request->model, down);
  const auto decision = policies::decide(loaded->policy, *facts, states, {}, std::chrono::system_clock::now());
  auto out = policies::explain_json(loaded->policy, *facts, decision, states);
  out["config_revision"] = loaded->config.revision;
  std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return decision.error ? 1 : 0;
}

template <class Run>
int subcommand(const std::vector<std::string>& args, const std::vector<std::string>& with_value, const char* verb,
               const char* sub, Run run) {
  Options opts;
  if (auto err = parse_options(args, with_value, opts)) {
    std::cerr << "dsgw " << verb << ": " << *err << "\n";
    return 2;
  }
  for (const auto& v : verbs()) {
    if (std::string(v.name) != verb) continue;
    if (opts.help) {
      std::cout << v.usage;
      return 0;
    }
    if (opts.positional.empty() || opts.positional[0] != sub) {
      std::cerr << v.usage;
      return 2;
    }
  }
  return run(opts);
}

}  // namespace

int run_policy(const std::vector<std::string>& args) {
  return subcommand(args, {"config"}, "policy", "test", policy_test);
}

int run_route(const std::vector<std::string>& args) {
  return subcommand(args, {"config", "tenant", "device", "data-class", "down"}, "route", "explain", route_explain);
}

}  // namespace dsgw::daemon
