// dsgw-engine: the local engine alone, for GPU hosts and Jetsons that build
// it without the gateway (-DDSGW_ENGINE_ONLY=ON).
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "backends/local/engine/generate_command.h"

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "generate") == 0) {
    return dsgw::local::run_generate_command(std::vector<std::string>(argv + 2, argv + argc));
  }
  std::cerr << "usage: dsgw-engine generate --model DIR --prompt TEXT [options]\n"
               "       dsgw-engine generate --help\n";
  return (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) ? 0 : 2;
}
