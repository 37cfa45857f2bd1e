#include "daemon/config.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "common/sha256.h"
#include "tests/unit/test_util.h"

using dsgw::config::Config;
using dsgw::config::load;
using dsgw::test::contains;
using dsgw::test::TempDir;

namespace {

// A valid [[backend]] table of six lines, plus `extra` lines at its end.
std::string backend(const std::string& name = "edge", const std::string& extra = {}) {
  return "[[backend]]\n"
         "name = \"" + name + "\"\n"
         "kind = \"openai\"\n"
         "base_url = \"http://127.0.0.1:9000/v1\"\n"
         "model = \"m1\"\n"
         "jurisdiction = \"lan\"\n" + extra;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += "\n  " + s;
  return out;
}

// Writes `text` to a temp file and loads it.
struct Loaded {
  std::unique_ptr<TempDir> dir = std::make_unique<TempDir>();
  std::string path;
  dsgw::Result<Config> result = dsgw::make_error(dsgw::ErrorCode::kInternal, "not loaded");
};

Loaded load_text(const std::string& text) {
  Loaded l;
  l.path = l.dir->write("dsgw.toml", text);
  l.result = load(l.path);
  return l;
}

void require_loads(const Loaded& l) { REQUIRE_MESSAGE(l.result.has_value(), l.result.error().message); }

// The error lines of a config that must fail to load, the file shown as "F".
std::vector<std::string> errors_of(const std::string& text) {
  const Loaded l = load_text(text);
  REQUIRE_MESSAGE(!l.result.has_value(), "expected the config to fail:\n" << text);
  CHECK(l.result.error().code == dsgw::ErrorCode::kInvalidRequest);
  return dsgw::test::diagnostics_as_f(l.result.error().message, l.path);
}

std::string only_error(const std::string& text) {
  const auto errors = errors_of(text);
  REQUIRE_MESSAGE(errors.size() == 1, "errors:" << join(errors));
  return errors[0];
}

bool well_formed(const std::string& line) { return dsgw::test::well_formed_diagnostic(line); }

}  // namespace

TEST_CASE("config::load accepts the shipped config/dsgw.toml") {
  auto r = load(DSGW_SOURCE_DIR "/config/dsgw.toml");
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  const Config& c = *r;
  CHECK(c.server.host == "127.0.0.1");
  CHECK(c.server.port == 8080);
  CHECK(c.server.workers > c.server.max_inflight);
  CHECK(c.api_keys.empty());
  REQUIRE(c.backends.size() == 3);
  CHECK(c.backends[0].name == "local");
  CHECK(c.backends[0].kind == "local");
  CHECK(c.backends[0].local.model_dir == "build/demo-model");
  CHECK(c.backends[0].jurisdiction == "device");
  CHECK(c.backends[1].name == "deepseek");
  CHECK(c.backends[1].openai.base_url == "https://api.deepseek.com/v1");
  CHECK(c.backends[1].openai.api_key_env == "DEEPSEEK_API_KEY");
  CHECK(c.backends[1].models == std::vector<std::string>{"deepseek-reasoner", "deepseek-r1"});
  CHECK(c.backends[2].models == std::vector<std::string>{"deepseek-chat"});  // defaults to model
  CHECK(c.revision.size() == 12u);
}

TEST_CASE("config::load fills defaults and the revision of a minimal config") {
  const std::string text = backend();
  const Loaded l = load_text(text);
  require_loads(l);
  const Config& c = *l.result;
  CHECK(c.server == dsgw::config::ServerConfig{});
  CHECK(c.path == l.path);
  CHECK(c.revision == dsgw::sha256_hex(text).substr(0, 12));
  REQUIRE(c.backends.size() == 1);
  const auto& b = c.backends[0];
  CHECK(b.kind == "openai");
  CHECK(b.models == std::vector<std::string>{"m1"});
  CHECK(b.jurisdiction == "lan");
  CHECK(b.openai.model == "m1");
  CHECK(b.openai.api_key_env.empty());
  dsgw::config::OpenAIBackendConfig expected;  // defaults for everything else
  expected.base_url = "http://127.0.0.1:9000/v1";
  expected.model = "m1";
  CHECK(b.openai == expected);
}

TEST_CASE("config::load reads every server and backend key") {
  TempDir files;
  const std::string ca = files.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  const std::string key = files.write("key", "sk-x\n");
  const Loaded l = load_text(
      "[server]\n"
      "listen = \"[::1]:0\"\nworkers = 10\nmax_inflight = 4\nmax_body_bytes = 2048\n"
      "read_timeout_ms = 1\nwrite_timeout_ms = 2\nidle_timeout_ms = 3\nshutdown_grace_ms = 0\n"
      "allow_unauthenticated = true\nlog_level = \"debug\"\n" +
      backend("b.1_x-y", "models = [\"a\", \"b\"]\napi_key_file = \"" + key + "\"\nca_file = \"" + ca +
                             "\"\nconnect_timeout_ms = 11\nfirst_byte_timeout_ms = 12\n"
                             "total_timeout_ms = 13\nmax_idle_connections = 0\n"));
  require_loads(l);
  const auto& s = l.result->server;
  CHECK(s.host == "::1");
  CHECK(s.port == 0);
  CHECK(s.workers == 10);
  CHECK(s.max_inflight == 4);
  CHECK(s.max_body_bytes == 2048);
  CHECK(s.read_timeout.count() == 1);
  CHECK(s.write_timeout.count() == 2);
  CHECK(s.idle_timeout.count() == 3);
  CHECK(s.shutdown_grace.count() == 0);
  CHECK(s.allow_unauthenticated);
  CHECK(s.log_level == "debug");
  const auto& b = l.result->backends.at(0);
  CHECK(b.name == "b.1_x-y");
  CHECK(b.models == std::vector<std::string>{"a", "b"});
  CHECK(b.openai.api_key_file == key);
  CHECK(b.openai.ca_file == ca);
  CHECK(b.openai.connect_timeout.count() == 11);
  CHECK(b.openai.first_byte_timeout.count() == 12);
  CHECK(b.openai.total_timeout.count() == 13);
  CHECK(b.openai.max_idle_connections == 0);
}

TEST_CASE("config::load reads api keys, lower-casing their digests") {
  const std::string digest = dsgw::sha256_hex("sk-1");
  std::string upper = digest;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  const Loaded l = load_text("[[api_key]]\nsha256 = \"" + upper + "\"\ntenant = \"team-a\"\n" + backend());
  require_loads(l);
  REQUIRE(l.result->api_keys.size() == 1);
  CHECK(l.result->api_keys[0].sha256 == digest);
  CHECK(l.result->api_keys[0].tenant == "team-a");
}

TEST_CASE("config::load reports unknown keys at top level, in [server] and in [[backend]]") {
  CHECK(only_error("bogus = 1\n" + backend()) == "F:1:1: bogus: unknown key");
  CHECK(only_error("[server]\nport = 80\n" + backend()) == "F:2:1: server.port: unknown key");
  CHECK(only_error(backend("edge", "colour = \"red\"\n")) == "F:7:1: backend[0].colour: unknown key");
  CHECK(only_error(backend("a") + backend("b", "  extra = 1\n")) == "F:13:3: backend[1].extra: unknown key");
  CHECK(only_error("[[api_key]]\nsha256 = \"" + dsgw::sha256_hex("k") + "\"\ntenant = \"t\"\nnote = \"x\"\n" +
                   backend()) == "F:4:1: api_key[0].note: unknown key");
}

TEST_CASE("config::load reports wrong types with the expected type") {
  CHECK(only_error("[server]\nworkers = \"many\"\n" + backend()) ==
        "F:2:11: server.workers: expected an integer, got a string");
  CHECK(only_error("[server]\nallow_unauthenticated = 1\n" + backend()) ==
        "F:2:25: server.allow_unauthenticated: expected a boolean (true or false), got an integer");
  CHECK(only_error(backend("edge", "models = \"m1\"\n")) ==
        "F:7:10: backend[0].models: expected an array of strings, got a string");
  CHECK(only_error(backend("edge", "models = [\"a\", 2]\n")) ==
        "F:7:16: backend[0].models[1]: expected a string, got an integer");
  CHECK(only_error("server = 5\n" + backend()) == "F:1:10: server: expected a table, got an integer");
}

TEST_CASE("config::load reports out-of-range integers and bad values") {
  CHECK(only_error("[server]\nmax_body_bytes = 10\n" + backend()) ==
        "F:2:18: server.max_body_bytes: expected an integer in [1024, 1073741824], got 10");
  CHECK(contains(only_error("[server]\nread_timeout_ms = 0\n" + backend()),
                 "F:2:19: server.read_timeout_ms: expected an integer in [1, "));
  CHECK(only_error("[server]\nlog_level = \"loud\"\n" + backend()) ==
        "F:2:13: server.log_level: expected one of \"debug\", \"info\", \"warn\", \"error\", got \"loud\"");
  CHECK(contains(only_error("[server]\nlisten = \"localhost\"\n" + backend()), "F:2:10: server.listen: expected host:port"));
  CHECK(contains(only_error(backend("bad name")), "F:2:8: backend[0].name: expected a name"));
  std::string unknown = backend();
  unknown.replace(unknown.find("\"openai\""), 8, "\"vllm\"");
  const auto kind_errors = errors_of(unknown);
  REQUIRE(!kind_errors.empty());
  CHECK(kind_errors[0] == "F:3:8: backend[0].kind: expected \"openai\" or \"local\", got \"vllm\"");
}

std::string local_backend(const std::string& extra = {}) {
  std::string text = "[[backend]]\nname = \"gpu\"\nkind = \"local\"\nmodel_dir = \"/models/r1\"\njurisdiction = \"device\"\n";
  text += extra;
  return text;
}

TEST_CASE("config::load reads a local backend with its defaults") {
  const Loaded l = load_text(local_backend());
  require_loads(l);
  const auto& b = l.result->backends.at(0);
  CHECK(b.local.model_dir == "/models/r1");
  CHECK(b.local.device == "cpu");
  CHECK(b.local.dtype == "auto");
  CHECK(b.local.max_batch == 8);
  CHECK(b.models == std::vector<std::string>{"gpu"});  // defaults to the name
}

TEST_CASE("config::load checks a local backend's device, dtype and limits") {
  CHECK(contains(only_error(local_backend("device = \"tpu\"\n")), "F:6:10: backend[0].device: unknown device 'tpu'"));
  CHECK(contains(only_error(local_backend("device = \"cuda:x\"\n")), "backend[0].device: unknown device"));
  CHECK(contains(only_error(local_backend("dtype = \"int4\"\n")), "F:6:9: backend[0].dtype: unknown dtype 'int4'"));
  CHECK(contains(only_error(local_backend("max_batch = 0\n")), "backend[0].max_batch: expected an integer in [1, "));
  CHECK(contains(only_error(local_backend("default_priority = 10\n")), "backend[0].default_priority"));
  CHECK(contains(only_error(local_backend("base_url = \"http://x\"\n")), "backend[0].base_url: unknown key"));
  require_loads(load_text(local_backend("device = \"cuda:1\"\ndtype = \"bf16\"\n")));
}

TEST_CASE("config::load rejects base URLs that are not http(s) with a host") {
  for (const char* url : {"ftp://host/v1", "api.deepseek.com", "http://", "http://host/v1?x=1", "https://:443"}) {
    CAPTURE(url);
    std::string text = backend();
    text.replace(text.find("http://127.0.0.1:9000/v1"), 24, url);
    const std::string e = only_error(text);
    CHECK(well_formed(e));
    CHECK(contains(e, "F:4:12: backend[0].base_url: expected an http:// or https:// URL"));
    CHECK(contains(e, url));
  }
}

TEST_CASE("config::load rejects duplicate backend names at the second one") {
  CHECK(only_error(backend("twin") + backend("twin")) == "F:8:8: backend[1].name: duplicate backend name \"twin\"");
}

TEST_CASE("config::load reports missing required keys at their table") {
  std::string text = backend();
  text.erase(text.find("model = \"m1\"\n"), 13);
  CHECK(only_error(text) == "F:1:1: backend[0].model: is required but missing");
  CHECK(only_error("[[api_key]]\ntenant = \"t\"\n" + backend()) == "F:1:1: api_key[0].sha256: is required but missing");
  CHECK(contains(only_error("[server]\nlisten = \"127.0.0.1:1\"\n"), "backend: is required but missing"));
}

TEST_CASE("config::load checks api_key_file and ca_file exist, and that only one key source is set") {
  TempDir files;
  const std::string key = files.write("key", "sk\n");
  CHECK(only_error(backend("edge", "api_key_file = \"/nonexistent/dsgw.key\"\n")) ==
        "F:7:16: backend[0].api_key_file: file \"/nonexistent/dsgw.key\" does not exist or is not a regular file");
  CHECK(contains(only_error(backend("edge", "ca_file = \"" + files.path("none.pem") + "\"\n")),
                 "F:7:11: backend[0].ca_file: file \""));
  CHECK(only_error(backend("edge", "api_key_env = \"K\"\napi_key_file = \"" + key + "\"\n")) ==
        "F:8:16: backend[0].api_key_file: set either api_key_env or api_key_file, not both");
  // A directory is not a key file.
  CHECK(contains(only_error(backend("edge", "api_key_file = \"/tmp\"\n")), "not a regular file"));
}

TEST_CASE("config::load rejects malformed api key digests and tenants") {
  CHECK(only_error("[[api_key]]\nsha256 = \"abc\"\ntenant = \"t\"\n" + backend()) ==
        "F:2:10: api_key[0].sha256: expected 64 hex digits (sha256sum of the key), got \"abc\"");
  CHECK(contains(only_error("[[api_key]]\nsha256 = \"" + std::string(64, 'g') + "\"\ntenant = \"t\"\n" + backend()),
                 "F:2:10: api_key[0].sha256: expected 64 hex digits"));
  CHECK(contains(only_error("[[api_key]]\nsha256 = \"" + dsgw::sha256_hex("k") + "\"\ntenant = \"a b\"\n" + backend()),
                 "F:3:10: api_key[0].tenant: expected a name"));
}

TEST_CASE("config::load requires workers to exceed max_inflight") {
  CHECK(only_error("[server]\nworkers = 8\nmax_inflight = 8\n" + backend()) ==
        "F:2:11: server.workers: must exceed server.max_inflight (8) so that requests over capacity still get a 429");
  // With workers left at its default, the error points at the table.
  CHECK(contains(only_error("[server]\nmax_inflight = 5000\n" + backend()),
                 "F:1:1: server.workers: must exceed server.max_inflight (5000)"));
  const Loaded ok = load_text("[server]\nworkers = 9\nmax_inflight = 8\n" + backend());
  require_loads(ok);
}

TEST_CASE("config::load refuses a non-loopback listen address without api keys") {
  const std::string e = only_error("[server]\nlisten = \"0.0.0.0:8080\"\n" + backend());
  CHECK(contains(e, "server.listen: "));
  CHECK(contains(e, "0.0.0.0"));
  CHECK(contains(e, "allow_unauthenticated"));
  CHECK(contains(only_error("[server]\nlisten = \"[::]:8080\"\n" + backend()), "server.listen: "));

  require_loads(load_text("[server]\nlisten = \"0.0.0.0:8080\"\nallow_unauthenticated = true\n" + backend()));
  require_loads(load_text("[server]\nlisten = \"0.0.0.0:8080\"\n[[api_key]]\nsha256 = \"" + dsgw::sha256_hex("k") +
                          "\"\ntenant = \"t\"\n" + backend()));
  require_loads(load_text("[server]\nlisten = \"localhost:8080\"\n" + backend()));
  require_loads(load_text("[server]\nlisten = \"[::1]:8080\"\n" + backend()));
}

// Regression test; it used to fail: config::load reports the non-loopback listen error without a position
// ("F: server.listen: ..."), although config.h promises every problem as
// file:line:column: key.path: ...; the `listen` key has a position to point at.
TEST_CASE("config::load gives the non-loopback listen error a position") {
  CHECK(contains(only_error("[server]\nlisten = \"0.0.0.0:8080\"\n" + backend()), "F:2:10: server.listen: "));
}

TEST_CASE("config::load reports TOML syntax errors with their line") {
  const std::string e = only_error(backend() + "\n[server\nworkers = 3\n");
  CHECK(contains(e, "F:8:"));
  CHECK(contains(e, ": (syntax): "));
  CHECK(contains(only_error("[server]\nworkers = = 3\n" + backend()), "F:2:"));
  CHECK(contains(only_error("a = \"unterminated\n"), "F:1:"));
}

TEST_CASE("config::load reports an unreadable file") {
  TempDir dir;
  const std::string missing = dir.path("absent.toml");
  auto r = load(missing);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.rfind(missing + ": ", 0) == 0);
  CHECK(contains(r.error().message, "cannot open"));
  CHECK(contains(r.error().message, "No such file"));

  if (::geteuid() != 0) {  // root reads anything
    const std::string locked = dir.write("locked.toml", backend());
    REQUIRE(::chmod(locked.c_str(), 0) == 0);
    auto l = load(locked);
    REQUIRE_FALSE(l.has_value());
    CHECK(contains(l.error().message, "cannot open"));
  }
}

TEST_CASE("config::load reports every error of a file, each as file:line:column: key: what") {
  TempDir files;
  const std::string key = files.write("key", "sk\n");
  const auto errors = errors_of(
      "surprise = true\n"          // 1
      "[server]\n"                 // 2
      "workers = \"x\"\n"          // 3
      "log_level = \"chatty\"\n"   // 4
      "[[api_key]]\n"              // 5
      "sha256 = \"123\"\n"         // 6
      "tenant = \"t\"\n"           // 7
      "[[backend]]\n"              // 8
      "name = \"dup\"\n"           // 9
      "kind = \"openai\"\n"        // 10
      "base_url = \"ftp://x\"\n"   // 11
      "model = \"m\"\n"            // 12
      "jurisdiction = \"lan\"\n"   // 13
      "api_key_env = \"E\"\n"      // 14
      "api_key_file = \"" + key + "\"\n"  // 15
      "[[backend]]\n"              // 16
      "name = \"dup\"\n"           // 17
      "kind = \"openai\"\n"        // 18
      "base_url = \"http://h\"\n"  // 19
      "jurisdiction = \"lan\"\n"   // 20
      "timeout = 5\n");            // 21
  INFO("errors:" << join(errors));
  for (const auto& e : errors) {
    CAPTURE(e);
    CHECK(well_formed(e));
  }
  const std::vector<std::string> expected_prefixes = {
      "F:3:11: server.workers: ",      "F:4:13: server.log_level: ",     "F:6:10: api_key[0].sha256: ",
      "F:11:12: backend[0].base_url: ", "F:15:16: backend[0].api_key_file: ", "F:16:1: backend[1].model: ",
      "F:21:1: backend[1].timeout: ",   "F:17:8: backend[1].name: ",       "F:1:1: surprise: ",
  };
  REQUIRE(errors.size() == expected_prefixes.size());
  for (size_t i = 0; i < errors.size(); ++i) {
    CAPTURE(i);
    CHECK(errors[i].rfind(expected_prefixes[i], 0) == 0);
  }
}
