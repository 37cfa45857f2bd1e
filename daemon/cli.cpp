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
       "Validates FILE and everything it names (key files, CA files, the policy\n"
       "and its tests). Prints\n"
       "each problem as FILE:LINE:COLUMN: key.path: what was expected, and exits\n"
       "1 if there is any, 0 otherwise. Binds no socket, loads no model.\n",
       run_check},
      {"policy", "run the routing policy's tests",
       "usage: dsgw policy test [--config FILE] [TESTS]\n\n"
       "Loads the policy that FILE (default config/dsgw.toml) names in [policy] file,\n"
       "runs each [[case]] of TESTS (default: [policy] tests) through it, prints\n"
       "every failure as TESTS:LINE: case \"name\": what differed, and exits 1 if\n"
       "any failed. Backends are assumed usable unless a case lists them in down.\n",
       run_policy},
      {"route", "explain where a request would go, without running it",
       "usage: dsgw route explain [--config FILE] [--tenant T] [--device D]\n"
       "                          [--data-class C] [--down B1,B2] REQUEST.json\n\n"
       "Reads an OpenAI chat request (JSON; - for stdin), classifies it and runs\n"
       "the policy, and prints the decision as JSON: data class and where it came\n"
       "from, PII types found, matched rules, every backend kept or eliminated\n"
       "with the reason, estimated cost and latency, and the policy revision.\n"
       "Backends are assumed usable (except --down) with the policy's latency\n"
       "priors; POST /v1/route/explain on a running dsgw uses live state.\n"
       "Exits 1 when the request would be refused.\n",
       run_route},
#ifdef DSGW_WITH_LOCAL_ENGINE
      {"generate", "run the local engine once from the command line", local::kGenerateUsage,
       local::run_generate_command},
#endif
  };
  return kVerbs;
}

}  // namespace dsgw::daemon
