// Command-line verbs: `dsgw VERB [options]`.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dsgw::daemon {

struct Verb {
  const char* name;
  const char* summary;
  const char* usage;  // the text of `dsgw VERB --help`
  int (*run)(const std::vector<std::string>& args);
};

// Parsed `--key value` / `--key=value` / `--flag` options and positionals.
struct Options {
  std::map<std::string, std::string> values;
  std::vector<std::string> positional;
  bool help = false;
};

// Parses args; `with_value` names the options that take a value. Unknown
// options are an error (returned as text).
std::optional<std::string> parse_options(const std::vector<std::string>& args,
                                         const std::vector<std::string>& with_value, Options& out);

int run_serve(const std::vector<std::string>& args);
int run_check(const std::vector<std::string>& args);
int run_policy(const std::vector<std::string>& args);
int run_route(const std::vector<std::string>& args);

// Every verb, for dispatch and `dsgw --help`.
const std::vector<Verb>& verbs();

}  // namespace dsgw::daemon
