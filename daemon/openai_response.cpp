#include "daemon/openai_response.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "daemon/error_mapping.h"

namespace dsgw::daemon {
namespace {

using nlohmann::json;

bool is_chat(const ResponseIdentity& id) { return id.endpoint == router::Endpoint::kChat; }

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string sse(const json& j) { return "data: " + dump(j) + "\n\n"; }

// Merges the fields of a JSON object text into `target` (upstream passthrough).
void merge_extra(json& target, const std::string& extra_json) {
  if (extra_json.empty()) return;
  json extra = json::parse(extra_json, nullptr, false);
  if (!extra.is_object()) return;
  for (auto it = extra.begin(); it != extra.end(); ++it) target[it.key()] = it.value();
}

json usage_json(const router::Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_prompt_tokens}}},
          {"completion_tokens_details", {{"reasoning_tokens", u.reasoning_tokens}}},
          // DeepSeek's names, which its clients read for cost.
          {"prompt_cache_hit_tokens", u.cached_prompt_tokens},
          {"prompt_cache_miss_tokens", u.prompt_tokens - u.cached_prompt_tokens}};
}

json envelope(const ResponseIdentity& id, bool chunk) {
  const char* object = is_chat(id) ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  return {{"id", id.id}, {"object", object}, {"created", id.created}, {"model", id.model}};
}

json chunk_choice(const ResponseIdentity& id, json delta, const json& finish_reason) {
  json choice = {{"index", 0}};
  if (is_chat(id)) {
    choice["delta"] = std::move(delta);
  } else {
    choice["text"] = delta.value("content", std::string());
  }
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish_reason;
  return choice;
}

}  // namespace

ResponseIdentity make_identity(const router::Request& request) {
  const bool chat = request.endpoint == router::Endpoint::kChat;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return {request.endpoint, (chat ? "chatcmpl-" : "cmpl-") + request.id, request.model,
          std::chrono::duration_cast<std::chrono::seconds>(now).count()};
}

std::string ChunkEncoder::delta(const router::Delta& d) {
  json delta = json::object();
  if (is_chat(id_) && !sent_role_) {
    delta["role"] = "assistant";
    sent_role_ = true;
  }
  if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
  if (!d.content.empty() || !is_chat(id_)) delta["content"] = d.content;
  merge_extra(delta, d.delta_extra_json);
  json j = envelope(id_, true);
  json choice = chunk_choice(id_, std::move(delta), nullptr);
  merge_extra(choice, d.choice_extra_json);
  j["choices"] = json::array({std::move(choice)});
  return sse(j);
}

std::string ChunkEncoder::usage(const router::Usage& u) {
  usage_ = u;
  has_usage_ = true;
  return "";
}

std::string ChunkEncoder::finish(const router::Finish& f) {
  json j = envelope(id_, true);
  json delta = json::object();
  if (is_chat(id_) && !sent_role_) delta["role"] = "assistant";
  j["choices"] = json::array({chunk_choice(id_, std::move(delta), f.reason)});
  std::string out = sse(j);
  if (include_usage_ && has_usage_) {
    json u = envelope(id_, true);
    u["choices"] = json::array();
    u["usage"] = usage_json(usage_);
    out += sse(u);
  }
  out += "data: [DONE]\n\n";
  return out;
}

std::string ChunkEncoder::failure(const Error& error) { return "data: " + error_body(error) + "\n\n"; }

void CompletionAggregator::add(const router::Delta& d) {
  content_ += d.content;
  reasoning_ += d.reasoning;
  if (!d.delta_extra_json.empty()) delta_extra_json_ = d.delta_extra_json;
  if (!d.choice_extra_json.empty()) choice_extra_json_ = d.choice_extra_json;
}

std::string CompletionAggregator::render(const router::Finish& f) const {
  json j = envelope(id_, false);
  json choice = {{"index", 0}};
  if (is_chat(id_)) {
    json message = {{"role", "assistant"}, {"content", content_}};
    if (!reasoning_.empty()) message["reasoning_content"] = reasoning_;
    merge_extra(message, delta_extra_json_);
    if (content_.empty() && message.contains("tool_calls")) message["content"] = nullptr;
    choice["message"] = std::move(message);
  } else {
    choice["text"] = content_;
  }
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = f.reason;
  merge_extra(choice, choice_extra_json_);
  j["choices"] = json::array({std::move(choice)});
  j["usage"] = usage_json(usage_);
  return dump(j);
}

}  // namespace dsgw::daemon
