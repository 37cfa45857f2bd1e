// The decision log: one JSON object per line per request, appended to a file
// in the state directory. Lines carry ids, classes, PII types, candidates and
// outcomes; never prompt text or PII values.
#pragma once

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace dsgw::router {

class AuditLog {
 public:
  // Opens `path` for appending, creating it and its directory.
  static Result<std::unique_ptr<AuditLog>> open(const std::string& path);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends one line and flushes it. A failed write is logged (once) and
  // does not fail the request. Thread-safe.
  void write(const nlohmann::json& line);
  const std::string& path() const { return path_; }

 private:
  AuditLog(std::string path, std::FILE* file) : path_(std::move(path)), file_(file) {}
  std::string path_;
  std::mutex mutex_;
  std::FILE* file_;
  bool failed_ = false;
};

}  // namespace dsgw::router
