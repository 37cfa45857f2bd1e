#include "daemon/config.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>

#include "backends/local/model/device.h"
#include "common/toml_reader.h"
#include "common/net_address.h"

namespace dsgw::config {
namespace {

constexpr int64_t kMaxMillis = 7LL * 24 * 3600 * 1000;


bool is_name(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.';
  });
}

bool is_lower_hex(const std::string& s, size_t len) {
  return s.size() == len && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isdigit(c) || (c >= 'a' && c <= 'f');
  });
}

void read_millis(TableReader& t, const char* key, Millis& out, int64_t min = 1) {
  int64_t ms = out.count();
  if (t.get(key, ms, min, kMaxMillis)) out = Millis(ms);
}

void check_readable_file(TableReader& t, const char* key, const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    t.error(key, "file \"" + path + "\" does not exist or is not a regular file");
    return;
  }
  std::ifstream in(path);
  if (!in) t.error(key, "file \"" + path + "\" cannot be read");
}

void read_server(TableReader& t, ServerConfig& s) {
  std::string listen;
  if (t.get("listen", listen)) {
    auto addr = parse_listen_address(listen);
    if (!addr) {
      t.error("listen", "expected host:port (e.g. \"127.0.0.1:8080\" or \"[::1]:8080\"), got \"" +
                            listen + "\"");
    } else {
      s.host = addr->host;
      s.port = addr->port;
    }
  }
  t.get("workers", s.workers, 2, 10'000);
  t.get("max_inflight", s.max_inflight, 1, 10'000);
  t.get("max_body_bytes", s.max_body_bytes, 1024, int64_t{1} << 30);
  read_millis(t, "read_timeout_ms", s.read_timeout);
  read_millis(t, "write_timeout_ms", s.write_timeout);
  read_millis(t, "idle_timeout_ms", s.idle_timeout);
  read_millis(t, "shutdown_grace_ms", s.shutdown_grace, 0);
  t.get("allow_unauthenticated", s.allow_unauthenticated);
  if (t.get("log_level", s.log_level) && s.log_level != "debug" && s.log_level != "info" &&
      s.log_level != "warn" && s.log_level != "error") {
    t.error("log_level", "expected one of \"debug\", \"info\", \"warn\", \"error\", got \"" +
                             s.log_level + "\"");
  }
  if (s.workers <= s.max_inflight) {
    t.error("workers", "must exceed server.max_inflight (" + std::to_string(s.max_inflight) +
                           ") so that requests over capacity still get a 429");
  }
  t.finish();
}

// A path relative to the config file's directory.
std::string beside(const std::string& config_path, const std::string& path) {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(config_path).parent_path() / path).lexically_normal().string();
}

void read_policy(TableReader& t, const std::string& config_path, PolicyConfig& p) {
  if (t.require("file", p.file)) {
    p.file = beside(config_path, p.file);
    check_readable_file(t, "file", p.file);
  }
  if (t.get("tests", p.tests)) {
    p.tests = beside(config_path, p.tests);
    check_readable_file(t, "tests", p.tests);
  }
  t.finish();
}

void read_storage(TableReader& t, StorageConfig& s) {
  if (t.get("state_dir", s.state_dir) && s.state_dir.empty()) t.error("state_dir", "must not be empty");
  t.get("audit_log", s.audit_log);
  t.finish();
}

void read_api_key(TableReader& t, ApiKeyConfig& k) {
  if (t.require("sha256", k.sha256)) {
    std::transform(k.sha256.begin(), k.sha256.end(), k.sha256.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!is_lower_hex(k.sha256, 64)) {
      t.error("sha256", "expected 64 hex digits (sha256sum of the key), got \"" + k.sha256 + "\"");
    }
  }
  if (t.require("tenant", k.tenant) && !is_name(k.tenant)) {
    t.error("tenant", "expected a name of letters, digits, '-', '_' or '.'");
  }
  t.finish();
}

void read_openai(TableReader& t, OpenAIBackendConfig& o) {
  if (t.require("base_url", o.base_url) && !parse_http_url(o.base_url)) {
    t.error("base_url", "expected an http:// or https:// URL with a host and an optional port "
                        "and path, got \"" + o.base_url + "\"");
  }
  t.require("model", o.model);
  t.get("api_key_env", o.api_key_env);
  if (t.get("api_key_file", o.api_key_file)) check_readable_file(t, "api_key_file", o.api_key_file);
  if (!o.api_key_env.empty() && !o.api_key_file.empty()) {
    t.error("api_key_file", "set either api_key_env or api_key_file, not both");
  }
  if (t.get("ca_file", o.ca_file)) check_readable_file(t, "ca_file", o.ca_file);
  read_millis(t, "connect_timeout_ms", o.connect_timeout);
  read_millis(t, "first_byte_timeout_ms", o.first_byte_timeout);
  read_millis(t, "total_timeout_ms", o.total_timeout);
  t.get("max_idle_connections", o.max_idle_connections, 0, 10'000);
}

void read_local(TableReader& t, LocalBackendConfig& l) {
  // A missing or broken model is not a config error: the backend reports it
  // as not usable, and the daemon serves the others (`check` warns).
  if (t.require("model_dir", l.model_dir) && l.model_dir.empty()) t.error("model_dir", "must not be empty");
  if (t.get("device", l.device)) {
    if (auto d = local::parse_device(l.device); !d) t.error("device", d.error().message);
  }
  if (t.get("dtype", l.dtype) && l.dtype != "auto") {
    if (auto d = local::parse_dtype(l.dtype); !d) t.error("dtype", d.error().message + " or auto");
  }
  t.get("max_batch", l.max_batch, 1, 1024);
  t.get("kv_cache_mb", l.kv_cache_mb, 1, int64_t{1} << 22);
  t.get("max_queue", l.max_queue, 0, 100'000);
  t.get("prefill_chunk", l.prefill_chunk, 1, 65'536);
  t.get("threads", l.threads, 0, 1024);
  t.get("default_priority", l.default_priority, 0, 9);
}

void read_backend(TableReader& t, BackendConfig& b) {
  if (t.require("name", b.name) && !is_name(b.name)) {
    t.error("name", "expected a name of letters, digits, '-', '_' or '.', got \"" + b.name + "\"");
  }
  if (t.require("jurisdiction", b.jurisdiction) && !is_name(b.jurisdiction)) {
    t.error("jurisdiction", "expected a token such as device, site, lan, cn, eu or us");
  }
  t.get("models", b.models);
  if (t.require("kind", b.kind)) {
    if (b.kind == "openai") {
      read_openai(t, b.openai);
      if (b.models.empty() && !b.openai.model.empty()) b.models.push_back(b.openai.model);
    } else if (b.kind == "local") {
      read_local(t, b.local);
      if (b.models.empty() && !b.name.empty()) b.models.push_back(b.name);
    } else {
      t.error("kind", "expected \"openai\" or \"local\", got \"" + b.kind + "\"");
    }
  }
  t.finish();
}

}  // namespace

Result<Config> load(const std::string& path) {
  Diagnostics diag(path);
  auto file = read_toml_file(diag);
  if (!file) return make_error(ErrorCode::kInvalidRequest, diag.joined());
  const toml::table* root = &file->root;

  Config cfg;
  cfg.path = path;
  cfg.revision = file->revision;
  TableReader top(*root, "", diag);
  if (const toml::table* server = top.table("server")) {
    TableReader t(*server, "server", diag);
    read_server(t, cfg.server);
  }
  if (const toml::table* policy = top.table("policy")) {
    TableReader t(*policy, "policy", diag);
    read_policy(t, path, cfg.policy);
  }
  if (const toml::table* storage = top.table("storage")) {
    TableReader t(*storage, "storage", diag);
    read_storage(t, cfg.storage);
  }
  const auto keys = top.tables("api_key");
  for (size_t i = 0; i < keys.size(); ++i) {
    TableReader t(*keys[i], "api_key[" + std::to_string(i) + "]", diag);
    read_api_key(t, cfg.api_keys.emplace_back());
  }
  std::set<std::string> names;
  const auto backends = top.tables("backend");
  for (size_t i = 0; i < backends.size(); ++i) {
    TableReader t(*backends[i], "backend[" + std::to_string(i) + "]", diag);
    BackendConfig& b = cfg.backends.emplace_back();
    read_backend(t, b);
    if (!b.name.empty() && !names.insert(b.name).second) {
      t.error("name", "duplicate backend name \"" + b.name + "\"");
    }
  }
  if (backends.empty()) top.missing("backend");
  top.finish();

  if (cfg.api_keys.empty() && !cfg.server.allow_unauthenticated &&
      !is_loopback_host(cfg.server.host)) {
    // Only an explicit `listen` can be non-loopback, so the node exists.
    diag.add(root->at_path("server.listen").node()->source(), "server.listen",
             "listening on non-loopback address \"" + cfg.server.host +
                 "\" without any [[api_key]]; add keys or set server.allow_unauthenticated = true");
  }
  if (!diag.empty()) return make_error(ErrorCode::kInvalidRequest, diag.joined());
  return cfg;
}

}  // namespace dsgw::config
