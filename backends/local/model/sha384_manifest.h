// SHA384SUMS in a model directory: the output of `sha384sum FILE...` run in
// that directory ("<96 hex digits>  <name>", or " *<name>" in binary mode).
// When present, every file it lists must exist and match.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"

namespace dsgw::local {

struct ManifestEntry {
  std::string hex_digest;  // lower case
  std::string file;        // relative to the directory
};

inline constexpr const char* kSha384Manifest = "SHA384SUMS";

// Parses manifest text; `source` names the file in messages.
Result<std::vector<ManifestEntry>> parse_sha384_manifest(const std::string& text, const std::string& source);

// Verifies DIR/SHA384SUMS if it exists. Returns the number of files checked
// (0 when there is no manifest); an error names the first file that is
// missing or whose digest differs.
Result<int> verify_sha384_manifest(const std::filesystem::path& dir);

// Lower-case hex SHA-384 of a whole file (memory-mapped).
Result<std::string> sha384_file(const std::filesystem::path& path);

}  // namespace dsgw::local
