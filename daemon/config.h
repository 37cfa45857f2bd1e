// The typed daemon configuration (config/dsgw.toml). Loading validates every
// key; a Config that exists is a valid one.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace dsgw::config {

using Millis = std::chrono::milliseconds;

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8080;
  int workers = 320;        // HTTP threads; each open connection holds one
  int max_inflight = 256;   // generations at once; one more gets 429
  int64_t max_body_bytes = 4 << 20;
  Millis read_timeout{30'000};
  Millis write_timeout{30'000};
  Millis idle_timeout{5'000};       // keep-alive
  Millis shutdown_grace{30'000};    // SIGTERM: time for in-flight streams
  bool allow_unauthenticated = false;
  std::string log_level = "info";

  bool operator==(const ServerConfig&) const = default;
};

struct ApiKeyConfig {
  std::string sha256;  // lower-case hex of the key
  std::string tenant;
  bool operator==(const ApiKeyConfig&) const = default;
};

// kind = "openai": any OpenAI-compatible upstream (DeepSeek's API, vLLM,
// SGLang, llama.cpp's server, Ollama, another dsgw).
struct OpenAIBackendConfig {
  std::string base_url;      // e.g. https://api.deepseek.com/v1
  std::string model;         // the upstream's model id
  std::string api_key_env;   // or
  std::string api_key_file;  // (neither: no Authorization header)
  std::string ca_file;       // extra trust anchor for https; default: system store
  Millis connect_timeout{5'000};
  Millis first_byte_timeout{60'000};
  Millis total_timeout{600'000};
  int max_idle_connections = 32;
  bool operator==(const OpenAIBackendConfig&) const = default;
};

// kind = "local": a DeepSeek-R1 distill run in-process by the engine.
struct LocalBackendConfig {
  std::string model_dir;     // a Hugging Face model directory
  std::string device = "cpu";  // cpu | cuda | cuda:N
  std::string dtype = "auto";  // auto | fp32 | bf16 | fp16
  int max_batch = 8;
  int64_t kv_cache_mb = 1024;
  int max_queue = 64;
  int prefill_chunk = 256;
  int threads = 0;
  int default_priority = 5;
  bool operator==(const LocalBackendConfig&) const = default;
};

struct BackendConfig {
  std::string name;
  std::string kind;  // "openai" | "local"
  std::string jurisdiction;
  std::vector<std::string> models;  // names clients may ask for
  OpenAIBackendConfig openai;       // kind == "openai"
  LocalBackendConfig local;         // kind == "local"
  bool operator==(const BackendConfig&) const = default;
};

// [policy]: the routing policy and its tests. Relative paths are resolved
// against the directory of the config file. Without a file, a permissive
// built-in policy applies (backends in config order, no data classes).
struct PolicyConfig {
  std::string file;   // e.g. policy.toml
  std::string tests;  // e.g. policy.tests.toml; run by check and before each reload
  bool operator==(const PolicyConfig&) const = default;
};

// [storage]: where dsgw keeps state across restarts (usage ledger, audit log).
struct StorageConfig {
  std::string state_dir = "state";  // relative to the working directory
  bool audit_log = true;            // <state_dir>/decisions.jsonl
  std::string ledger_path() const { return state_dir + "/usage.sqlite"; }
  std::string audit_log_path() const { return state_dir + "/decisions.jsonl"; }
  bool operator==(const StorageConfig&) const = default;
};

struct Config {
  std::string path;      // the file it was loaded from
  std::string revision;  // first 12 hex digits of the file's SHA-256
  ServerConfig server;
  PolicyConfig policy;
  StorageConfig storage;
  std::vector<ApiKeyConfig> api_keys;
  std::vector<BackendConfig> backends;
};

// Loads and validates `path`. On failure the Error's message lists every
// problem, one per line, as file:line:column: key.path: what was expected.
Result<Config> load(const std::string& path);

}  // namespace dsgw::config
