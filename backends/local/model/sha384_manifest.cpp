#include "backends/local/model/sha384_manifest.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "backends/local/model/safetensors.h"
#include "backends/local/model/sha384.h"

namespace dsgw::local {

Result<std::vector<ManifestEntry>> parse_sha384_manifest(const std::string& text, const std::string& source) {
  std::vector<ManifestEntry> out;
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto bad = [&](const std::string& why) {
      return make_error(ErrorCode::kUnavailable, source + ":" + std::to_string(line_no) + ": " + why);
    };
    if (line[0] == '\\') return bad("escaped file names are not supported");
    if (line.size() < 98 || line[96] != ' ' || (line[97] != ' ' && line[97] != '*')) {
      return bad("expected '<96 hex digits>  <file>' as sha384sum writes it");
    }
    ManifestEntry e;
    e.hex_digest = line.substr(0, 96);
    for (char& c : e.hex_digest) {
      if (!std::isxdigit(static_cast<unsigned char>(c))) return bad("digest is not 96 hex digits");
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    e.file = line.substr(98);
    if (e.file.empty()) return bad("missing file name");
    std::filesystem::path p(e.file);
    if (p.is_absolute() || std::any_of(p.begin(), p.end(), [](const auto& part) { return part == ".."; })) {
      return bad("file '" + e.file + "' is not inside the model directory");
    }
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::string> sha384_file(const std::filesystem::path& path) {
  auto file = MappedFile::open(path);
  if (!file) return file.error();
  Sha384 h;
  h.update((*file)->data(), (*file)->size());
  return h.finish_hex();
}

Result<int> verify_sha384_manifest(const std::filesystem::path& dir) {
  const auto path = dir / kSha384Manifest;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kUnavailable, path.string() + ": cannot read");
  std::stringstream buf;
  buf << in.rdbuf();
  auto entries = parse_sha384_manifest(buf.str(), path.string());
  if (!entries) return entries.error();
  int checked = 0;
  for (const auto& e : *entries) {
    auto digest = sha384_file(dir / e.file);
    if (!digest) {
      Error err = digest.error();
      err.message += " (listed in " + path.string() + ")";
      return err;
    }
    if (*digest != e.hex_digest) {
      return make_error(ErrorCode::kUnavailable, (dir / e.file).string() +
                                                     ": SHA384SUMS mismatch: expected " + e.hex_digest +
                                                     ", file has " + *digest);
    }
    ++checked;
  }
  return checked;
}

}  // namespace dsgw::local
