#include "daemon/backend_factory.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "backends/openai/openai_backend.h"
#include "backends/unusable_backend.h"
#ifdef DSGW_WITH_LOCAL_ENGINE
#include "backends/local/engine/local_backend.h"
#endif

namespace dsgw::daemon {
namespace {

std::string trim(std::string s) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

Result<std::shared_ptr<backends::Backend>> make_openai(const config::BackendConfig& c) {
  const auto& o = c.openai;
  backends::openai::Settings s;
  s.base_url = *parse_http_url(o.base_url);  // validated when the config was loaded
  s.model = o.model;
  s.ca_file = o.ca_file;
  s.connect_timeout = o.connect_timeout;
  s.first_byte_timeout = o.first_byte_timeout;
  s.total_timeout = o.total_timeout;
  s.max_idle_connections = o.max_idle_connections;
  if (!o.api_key_file.empty()) {
    std::ifstream in(o.api_key_file);
    std::stringstream text;
    text << in.rdbuf();
    s.api_key = trim(text.str());
    if (!in || s.api_key.empty()) {
      return make_error(ErrorCode::kInvalidRequest, "backend \"" + c.name + "\": api_key_file \"" +
                                                        o.api_key_file + "\" is unreadable or empty");
    }
  } else if (!o.api_key_env.empty()) {
    const char* key = std::getenv(o.api_key_env.c_str());
    if (key && *key) {
      s.api_key = trim(key);
    } else {
      s.unusable_reason = "environment variable " + o.api_key_env + " (api_key_env) is not set";
    }
  }
  backends::BackendInfo info{c.name, c.kind, c.jurisdiction, c.models};
  return std::shared_ptr<backends::Backend>(
      std::make_shared<backends::openai::OpenAIBackend>(std::move(info), std::move(s)));
}

#ifdef DSGW_WITH_LOCAL_ENGINE
Result<std::shared_ptr<backends::Backend>> make_local(const config::BackendConfig& c) {
  const auto& l = c.local;
  local::EngineOptions options;
  options.model_dir = l.model_dir;
  options.device = local::parse_device(l.device).value();  // validated when the config was loaded
  if (l.dtype != "auto") options.dtype = local::parse_dtype(l.dtype).value();
  options.max_batch = l.max_batch;
  options.kv_cache_mb = l.kv_cache_mb;
  options.max_queue = l.max_queue;
  options.prefill_chunk = l.prefill_chunk;
  options.threads = l.threads;
  options.default_priority = l.default_priority;
  backends::BackendInfo info{c.name, c.kind, c.jurisdiction, c.models};
  return std::shared_ptr<backends::Backend>(std::make_shared<local::LocalBackend>(std::move(info), options));
}
#endif

}  // namespace

Result<std::shared_ptr<backends::Backend>> make_backend(const config::BackendConfig& config) {
  if (config.kind == "openai") return make_openai(config);
  if (config.kind == "local") {
#ifdef DSGW_WITH_LOCAL_ENGINE
    return make_local(config);
#else
    backends::BackendInfo info{config.name, config.kind, config.jurisdiction, config.models};
    return std::shared_ptr<backends::Backend>(std::make_shared<backends::UnusableBackend>(
        std::move(info), "this dsgw was built without the local engine (libtorch was not found at build time)"));
#endif
  }
  return make_error(ErrorCode::kInvalidRequest,
                    "backend \"" + config.name + "\": unknown kind \"" + config.kind + "\"");
}

}  // namespace dsgw::daemon
