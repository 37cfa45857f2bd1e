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

AuditLog::AuditLog(std::string path, std::FILE* file)
    : path_(std::move(path)),
      file_(file),
      lines_(std::make_unique<BatchWriter<std::string>>(
          kGather, kBatchLimit, [this](std::vector<std::string>& lines) { return append(lines); })) {}

AuditLog::~AuditLog() {
  lines_.reset();
  std::fclose(file_);
}

void AuditLog::write(std::string line) { lines_->push(std::move(line)); }

bool AuditLog::flush() { return lines_->flush(); }

bool AuditLog::append(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) {
    text += line;
    text.push_back('\n');
  }
  if (std::fwrite(text.data(), 1, text.size(), file_) == text.size() && std::fflush(file_) == 0) {
    failed_ = false;
    return true;
  }
  if (!failed_) log::error("audit.write_failed").kv("path", path_).kv("error", std::strerror(errno));
  failed_ = true;
  return false;
}

}  // namespace dsgw::router
