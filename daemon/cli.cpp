#include "daemon/cli.h"

#ifdef DSGW_WITH_LOCAL_ENGINE
#include "backends/local/engine/generate_command.h"
#endif

namespace dsgw::daemon {

std::optional<std::string> parse_options(const std::vector<std::string>& args,
                                         const std::vector<std::string>& with_value, Options& out) {
  auto takes_value = [&](const std::string& key) {
    for (const auto& k : with_value) {
      if (k == key) return true;
    }
    return false;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      out.help = true;
    } else if (a.rfind("--", 0) == 0) {
      const size_t eq = a.find('=');
      const std::string key = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      if (!takes_value(key)) return "unknown option --" + key;
      if (eq != std::string::npos) {
        out.values[key] = a.substr(eq + 1);
      } else if (i + 1 < args.size()) {
        out.values[key] = args[++i];
      } else {
        return "option --" + key + " needs a value";
      }
    } else {
      out.positional.push_back(a);
    }
  }
  return std::nullopt;
}

const std::vector<Verb>& verbs() {
  static const std::vector<Verb> kVerbs = {
      {"serve", "run the gateway: HTTP API, backends, reload on SIGHUP",
       "usage: dsgw serve --config FILE\n\n"
       "Loads FILE (see config/dsgw.toml), starts the backends and serves the\n"
       "OpenAI-compatible API on [server].listen until SIGTERM or SIGINT.\n"
       "SIGHUP re-reads FILE: a valid file is swapped in for new requests; an\n"
       "invalid one is logged and ignored. Logs are JSON lines on stderr.\n",
       run_serve},
      {"check", "validate a config file without binding anything",
       "usage: dsgw check --config FILE\n\n"
       "Validates FILE and everything it names (key files, CA files). Prints\n"
       "each problem as FILE:LINE:COLUMN: key.path: what was expected, and exits\n"
       "1 if there is any, 0 otherwise. Binds no socket, loads no model.\n",
       run_check},
#ifdef DSGW_WITH_LOCAL_ENGINE
      {"generate", "run the local engine once from the command line", local::kGenerateUsage,
       local::run_generate_command},
#endif
  };
  return kVerbs;
}

}  // namespace dsgw::daemon
