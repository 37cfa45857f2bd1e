// Notices when the config file or the policy files it names change on disk,
// so that saving a file reloads it like SIGHUP does. Polled from the main
// loop (once a second); compares modification times and sizes.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "daemon/config.h"

namespace dsgw::daemon {

class ConfigWatch {
 public:
  explicit ConfigWatch(const config::Config& config) { reset(config); }

  // Watches the files of `config` from their current state.
  void reset(const config::Config& config);
  // Whether any watched file changed since the last reset().
  bool changed() const;

 private:
  struct Stamp {
    std::string path;
    std::filesystem::file_time_type mtime;
    uintmax_t size = 0;
    bool operator==(const Stamp&) const = default;
  };
  static Stamp stamp(const std::string& path);

  std::vector<Stamp> stamps_;
};

}  // namespace dsgw::daemon
