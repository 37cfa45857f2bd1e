#include "daemon/config_watch.h"

namespace dsgw::daemon {

ConfigWatch::Stamp ConfigWatch::stamp(const std::string& path) {
  std::error_code ec;
  Stamp s{path, std::filesystem::last_write_time(path, ec), 0};
  if (ec) return {path, {}, 0};
  s.size = std::filesystem::file_size(path, ec);
  return s;
}

void ConfigWatch::reset(const config::Config& config) {
  stamps_.clear();
  for (const auto* path : {&config.path, &config.policy.file, &config.policy.tests}) {
    if (!path->empty()) stamps_.push_back(stamp(*path));
  }
}

bool ConfigWatch::changed() const {
  for (const auto& s : stamps_) {
    if (!(stamp(s.path) == s)) return true;
  }
  return false;
}

}  // namespace dsgw::daemon
