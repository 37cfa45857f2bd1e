#include <filesystem>
#include <iostream>
#include <optional>

#include "daemon/backend_factory.h"
#include "daemon/cli.h"
#include "daemon/config.h"
#include "daemon/runtime.h"

namespace dsgw::daemon {
namespace {

// What a model directory obviously lacks, without loading it.
std::optional<std::string> missing_model_file(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return "model_dir \"" + dir + "\" does not exist";
  for (const char* file : {"config.json", "tokenizer.json"}) {
    if (!std::filesystem::is_regular_file(std::filesystem::path(dir) / file, ec)) {
      return "model_dir \"" + dir + "\" has no " + file + " (expected a Hugging Face model directory)";
    }
  }
  return std::nullopt;
}

}  // namespace

int run_check(const std::vector<std::string>& args) {
  Options opts;
  if (auto err = parse_options(args, {"config"}, opts)) {
    std::cerr << "dsgw check: " << *err << "\n";
    return 2;
  }
  if (opts.help || !opts.values.count("config")) {
    (opts.help ? std::cout : std::cerr) << verbs()[1].usage;
    return opts.help ? 0 : 2;
  }
  const std::string& path = opts.values["config"];
  auto cfg = config::load(path);
  if (!cfg) {
    std::cerr << cfg.error().message << "\n";
    return 1;
  }
  // The policy, checked against the backends, with its tests run.
  int problems = 0;
  auto policy = load_checked_policy(*cfg);
  if (!policy) {
    std::cerr << policy.error().message << "\n";
    ++problems;
  }
  // What serve would do next: resolve secrets and build each remote backend
  // (local ones would load their models, which check does not do).
  for (const auto& b : cfg->backends) {
    if (b.kind == "local") {
      if (auto missing = missing_model_file(b.local.model_dir)) {
        std::cerr << path << ": warning: backend \"" << b.name << "\" will not be usable: " << *missing << "\n";
      }
      continue;
    }
    auto backend = make_backend(b);
    if (!backend) {
      std::cerr << path << ": " << backend.error().message << "\n";
      ++problems;
    } else if (auto h = backend.value()->health(); !h.usable) {
      std::cerr << path << ": warning: backend \"" << b.name << "\" will not be usable: " << h.reason << "\n";
    }
  }
  if (problems) return 1;
  std::cout << path << ": OK (" << cfg->backends.size() << " backends, revision " << cfg->revision << "; policy "
            << (cfg->policy.file.empty() ? std::string("built-in") : cfg->policy.file) << ", revision "
            << policy.value()->revision << ")\n";
  return 0;
}

}  // namespace dsgw::daemon
