#include "router/audit_log.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/log.h"

namespace dsgw::router {

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& path) {
  std::error_code ec;
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (!file) {
    return make_error(ErrorCode::kInternal, "cannot open the audit log \"" + path + "\": " + std::strerror(errno));
  }
  return std::unique_ptr<AuditLog>(new AuditLog(path, file));
}

AuditLog::~AuditLog() { std::fclose(file_); }

void AuditLog::write(const nlohmann::json& line) {
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.push_back('\n');
  std::lock_guard lock(mutex_);
  if (std::fwrite(text.data(), 1, text.size(), file_) == text.size() && std::fflush(file_) == 0) return;
  if (!failed_) log::error("audit.write_failed").kv("path", path_).kv("error", std::strerror(errno));
  failed_ = true;
}

}  // namespace dsgw::router
