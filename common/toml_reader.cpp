#include "common/toml_reader.h"

#include "common/sha256.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace dsgw {
namespace {

std::string describe(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date/time";
  }
}

}  // namespace

void Diagnostics::add(const toml::source_region& where, const std::string& key_path,
                      const std::string& what) {
  std::ostringstream line;
  line << file_ << ':' << where.begin.line << ':' << where.begin.column << ": " << key_path << ": "
       << what;
  errors_.push_back(line.str());
}

void Diagnostics::add(const std::string& key_path, const std::string& what) {
  errors_.push_back(file_ + ": " + key_path + ": " + what);
}

std::string Diagnostics::joined() const {
  std::string out;
  for (const auto& e : errors_) {
    if (!out.empty()) out.push_back('\n');
    out.append(e);
  }
  return out;
}

std::optional<std::string> read_config_file(const std::string& path, Diagnostics& diag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diag.add("(file)", std::string("cannot open: ") + std::strerror(errno));
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    diag.add("(file)", "cannot read");
    return std::nullopt;
  }
  return text.str();
}

std::optional<toml::table> parse_toml(std::string_view text, Diagnostics& diag) {
  try {
    return toml::parse(text, diag.file());
  } catch (const toml::parse_error& e) {
    const auto& where = e.source();
    if (where.begin.line == 0) {
      diag.add("(file)", std::string(e.description()));
    } else {
      diag.add(where, "(syntax)", std::string(e.description()));
    }
    return std::nullopt;
  }
}

std::optional<TomlFile> read_toml_file(Diagnostics& diag) {
  const auto text = read_config_file(diag.file(), diag);
  if (!text) return std::nullopt;
  auto root = parse_toml(*text, diag);
  if (!root) return std::nullopt;
  return TomlFile{std::move(*root), sha256_hex(*text).substr(0, 12)};
}

TableReader::TableReader(const toml::table& table, std::string path, Diagnostics& diag)
    : table_(table), path_(std::move(path)), diag_(diag) {}

std::string TableReader::path_of(const char* key) const {
  return path_.empty() ? std::string(key) : path_ + "." + key;
}

const toml::node* TableReader::node(const char* key) {
  seen_.insert(key);
  return table_.get(key);
}

void TableReader::error(const char* key, const std::string& what) {
  if (const toml::node* n = table_.get(key)) {
    diag_.add(n->source(), path_of(key), what);
  } else if (table_.source().begin.line != 0) {
    diag_.add(table_.source(), path_of(key), what);
  } else {
    diag_.add(path_of(key), what);
  }
}

void TableReader::missing(const char* key) {
  seen_.insert(key);
  if (table_.source().begin.line != 0) {
    diag_.add(table_.source(), path_of(key), "is required but missing");
  } else {
    diag_.add(path_of(key), "is required but missing");
  }
}

void TableReader::wrong_type(const char* key, const char* expected) {
  error(key, std::string("expected ") + expected + ", got " + describe(*table_.get(key)));
}

bool TableReader::get(const char* key, std::string& out) {
  const toml::node* n = node(key);
  if (!n) return false;
  if (const auto* v = n->as_string()) {
    out = v->get();
    return true;
  }
  wrong_type(key, "a string");
  return false;
}

bool TableReader::get(const char* key, int64_t& out, int64_t min, int64_t max) {
  const toml::node* n = node(key);
  if (!n) return false;
  const auto* v = n->as_integer();
  if (!v) {
    wrong_type(key, "an integer");
    return false;
  }
  if (v->get() < min || v->get() > max) {
    error(key, "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                   "], got " + std::to_string(v->get()));
    return false;
  }
  out = v->get();
  return true;
}

bool TableReader::get(const char* key, int& out, int min, int max) {
  int64_t wide = out;
  if (!get(key, wide, min, max)) return false;
  out = static_cast<int>(wide);
  return true;
}

bool TableReader::get(const char* key, double& out) {
  const toml::node* n = node(key);
  if (!n) return false;
  if (const auto* v = n->as_floating_point()) {
    out = v->get();
    return true;
  }
  if (const auto* v = n->as_integer()) {
    out = static_cast<double>(v->get());
    return true;
  }
  wrong_type(key, "a number");
  return false;
}

bool TableReader::get(const char* key, bool& out) {
  const toml::node* n = node(key);
  if (!n) return false;
  if (const auto* v = n->as_boolean()) {
    out = v->get();
    return true;
  }
  wrong_type(key, "a boolean (true or false)");
  return false;
}

bool TableReader::get(const char* key, std::vector<std::string>& out) {
  const toml::node* n = node(key);
  if (!n) return false;
  const auto* arr = n->as_array();
  if (!arr) {
    wrong_type(key, "an array of strings");
    return false;
  }
  std::vector<std::string> values;
  for (size_t i = 0; i < arr->size(); ++i) {
    const auto* s = arr->get(i)->as_string();
    if (!s) {
      diag_.add(arr->get(i)->source(), path_of(key) + "[" + std::to_string(i) + "]",
                "expected a string, got " + describe(*arr->get(i)));
      return false;
    }
    values.push_back(s->get());
  }
  out = std::move(values);
  return true;
}

const toml::table* TableReader::table(const char* key) {
  const toml::node* n = node(key);
  if (!n) return nullptr;
  if (const auto* t = n->as_table()) return t;
  wrong_type(key, "a table");
  return nullptr;
}

std::vector<const toml::table*> TableReader::tables(const char* key) {
  std::vector<const toml::table*> out;
  const toml::node* n = node(key);
  if (!n) return out;
  const auto* arr = n->as_array();
  if (!arr) {
    wrong_type(key, std::string("an array of tables ([[" + std::string(key) + "]])").c_str());
    return out;
  }
  for (size_t i = 0; i < arr->size(); ++i) {
    if (const auto* t = arr->get(i)->as_table()) {
      out.push_back(t);
    } else {
      diag_.add(arr->get(i)->source(), path_of(key) + "[" + std::to_string(i) + "]",
                "expected a table, got " + describe(*arr->get(i)));
    }
  }
  return out;
}

void TableReader::finish() {
  for (const auto& [k, v] : table_) {
    if (seen_.count(k.str()) != 0) continue;
    diag_.add(k.source(), path_of(std::string(k.str()).c_str()), "unknown key");
  }
}

}  // namespace dsgw
