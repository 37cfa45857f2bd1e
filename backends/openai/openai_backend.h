// An OpenAI-compatible upstream over HTTP(S): DeepSeek's API (web), vLLM or
// SGLang on a GPU cloud, llama.cpp or Ollama on an edge box, another dsgw.
#pragma once

#include <memory>
#include <string>

#include "backends/backend.h"
#include "common/deadline_timer.h"
#include "common/http/client.h"
#include "common/net_address.h"

namespace dsgw::backends::openai {

struct Settings {
  HttpUrl base_url;
  std::string model;    // the upstream's model id
  std::string api_key;  // empty: no Authorization header
  std::string unusable_reason;  // e.g. the API key's env var is unset
  std::string ca_file;
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds first_byte_timeout{60'000};
  std::chrono::milliseconds total_timeout{600'000};
  int max_idle_connections = 32;
};

class OpenAIBackend final : public Backend {
 public:
  OpenAIBackend(BackendInfo info, Settings settings);
  ~OpenAIBackend() override;

  const BackendInfo& info() const override { return info_; }
  Health health() const override;
  void generate(const router::Request& request, router::EventSink& sink) override;

 private:
  const BackendInfo info_;
  const Settings settings_;
  http::Client client_;  // keeps up to max_idle_connections alive
  DeadlineTimer timer_;
};

}  // namespace dsgw::backends::openai
