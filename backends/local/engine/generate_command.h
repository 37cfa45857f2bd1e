// `dsgw generate` and `dsgw-engine generate`: one generation from the command
// line, straight through the engine (no HTTP), streamed to stdout.
#pragma once

#include <string>
#include <vector>

namespace dsgw::local {

extern const char* const kGenerateUsage;

// `args` are the words after the verb. Returns the process exit code.
int run_generate_command(const std::vector<std::string>& args);

}  // namespace dsgw::local
