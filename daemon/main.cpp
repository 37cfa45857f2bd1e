#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "daemon/cli.h"

namespace {

void print_help() {
  std::cout << "dsgw: run DeepSeek the hybrid way. An OpenAI-compatible gateway that\n"
               "routes each request to the local model, an edge box, DeepSeek's API or a GPU cloud.\n\n"
               "usage: dsgw VERB [options]    (dsgw VERB --help for details)\n\nverbs:\n";
  for (const auto& v : dsgw::daemon::verbs()) {
    std::cout << "  " << v.name << std::string(10 - std::strlen(v.name), ' ') << v.summary << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    print_help();
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp(argv[1], "--version") == 0) {
    std::cout << "dsgw " << DSGW_VERSION << "\n";
    return 0;
  }
  const std::vector<std::string> args(argv + 2, argv + argc);
  for (const auto& v : dsgw::daemon::verbs()) {
    if (argv[1] == std::string(v.name)) return v.run(args);
  }
  std::cerr << "dsgw: unknown verb '" << argv[1] << "'; see dsgw --help\n";
  return 2;
}
