// Reads typed values out of TOML++ tables and reports every problem with
// file:line:column, the key path and what was expected. Keys a reader never
// asked for are reported as unknown when the table is finished.
//
//   Diagnostics diag{"config/dsgw.toml"};
//   TableReader server(*root["server"].as_table(), "server", diag);
//   server.get("listen", cfg.listen);           // optional, keeps default
//   server.require("name", cfg.name);           // must be present
//   server.finish();                            // unknown keys -> errors
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <toml++/toml.h>

namespace dsgw {

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  void add(const toml::source_region& where, const std::string& key_path, const std::string& what);
  // For problems without a position (e.g. a missing table).
  void add(const std::string& key_path, const std::string& what);

  bool empty() const { return errors_.empty(); }
  const std::vector<std::string>& errors() const { return errors_; }
  // All errors, one per line.
  std::string joined() const;
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<std::string> errors_;
};

// Reads a whole file; an unreadable file is an error in `diag`.
std::optional<std::string> read_config_file(const std::string& path, Diagnostics& diag);

// Parses TOML text read from diag.file(). Syntax errors go into `diag`.
std::optional<toml::table> parse_toml(std::string_view text, Diagnostics& diag);

// A parsed TOML file and its revision (the first 12 hex digits of the
// text's SHA-256, as logs and /readyz show it).
struct TomlFile {
  toml::table root;
  std::string revision;
};

// Reads and parses diag.file(); unreadable files and syntax errors go into `diag`.
std::optional<TomlFile> read_toml_file(Diagnostics& diag);

class TableReader {
 public:
  TableReader(const toml::table& table, std::string path, Diagnostics& diag);

  // Each getter leaves `out` alone when the key is absent and returns whether
  // the key was present with the right type. Integers must fit; durations are
  // plain integers of milliseconds in keys ending in `_ms`.
  bool get(const char* key, std::string& out);
  bool get(const char* key, int64_t& out, int64_t min = INT64_MIN, int64_t max = INT64_MAX);
  bool get(const char* key, int& out, int min = INT32_MIN, int max = INT32_MAX);
  bool get(const char* key, double& out);
  bool get(const char* key, bool& out);
  bool get(const char* key, std::vector<std::string>& out);

  // Like get(), but reports an error when the key is absent.
  template <class T>
  bool require(const char* key, T& out) {
    if (!has(key)) {
      missing(key);
      return false;
    }
    return get(key, out);
  }

  bool has(const char* key) const { return table_.contains(key); }
  // The sub-table `key`, or nullptr (with an error if present but not a table).
  const toml::table* table(const char* key);
  // The array of tables `key` (may be empty), with an error if it is anything else.
  std::vector<const toml::table*> tables(const char* key);

  // Records an error at `key` (or at the table when the key is absent).
  void error(const char* key, const std::string& what);
  void missing(const char* key);
  // Reports every key that no getter asked for.
  void finish();

  std::string path_of(const char* key) const;
  const std::string& path() const { return path_; }

 private:
  const toml::node* node(const char* key);
  void wrong_type(const char* key, const char* expected);

  const toml::table& table_;
  std::string path_;
  Diagnostics& diag_;
  std::set<std::string, std::less<>> seen_;
};

}  // namespace dsgw
