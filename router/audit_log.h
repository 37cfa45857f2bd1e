// The decision log: one JSON object per line per request, appended to a file
// in the state directory. Lines carry ids, classes, PII types, candidates and
// outcomes; never prompt text or PII values.
//
// write() only queues the line: a writer thread of the log's own appends
// what gathered, one flush per batch, within kGather of the first
// line, so that no request waits on the disk. Lines still queued when the
// process dies are lost: normally kGather's worth.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/batch_writer.h"
#include "common/status.h"

namespace dsgw::router {

class AuditLog {
 public:
  static constexpr std::chrono::milliseconds kGather{50};
  static constexpr size_t kBatchLimit = 512;

  // Opens `path` for appending, creating it and its directory.
  static Result<std::unique_ptr<AuditLog>> open(const std::string& path);
  ~AuditLog();  // writes the queued lines
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Queues one line: a JSON object's text, without the newline. A failed
  // append is logged (once) and fails no request. Thread-safe.
  void write(std::string line);
  // Waits until every line queued before the call is in the file; false if an
  // append failed since the last flush().
  bool flush();
  const std::string& path() const { return path_; }

 private:
  AuditLog(std::string path, std::FILE* file);
  // On the writer thread.
  bool append(const std::vector<std::string>& lines);

  const std::string path_;
  std::FILE* const file_;  // the writer thread's
  bool failed_ = false;    // the writer thread's: logs a failing append once
  // Last: its thread stops, writing what is queued, before the file closes.
  std::unique_ptr<BatchWriter<std::string>> lines_;
};

}  // namespace dsgw::router
