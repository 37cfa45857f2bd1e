#include "backends/openai/upstream_wire.h"

#include <optional>

#include <nlohmann/json.hpp>

#include "common/json_escape.h"
#include "common/json_object_writer.h"

namespace dsgw::backends::openai {
namespace {

using nlohmann::json;

constexpr size_t kMaxErrorMessage = 500;

// A non-negative integer field, or nullopt when absent or of another type:
// upstreams differ in what they fill in, and garbage must not throw.
std::optional<int64_t> count_field(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer() || it->get<int64_t>() < 0) return std::nullopt;
  return it->get<int64_t>();
}

router::Usage parse_usage(const json& u) {
  router::Usage usage;
  usage.prompt_tokens = count_field(u, "prompt_tokens").value_or(0);
  usage.completion_tokens = count_field(u, "completion_tokens").value_or(0);
  if (auto hit = count_field(u, "prompt_cache_hit_tokens")) {
    usage.cached_prompt_tokens = *hit;  // DeepSeek
  } else if (auto d = u.find("prompt_tokens_details"); d != u.end() && d->is_object()) {
    usage.cached_prompt_tokens = count_field(*d, "cached_tokens").value_or(0);  // OpenAI
  }
  if (auto d = u.find("completion_tokens_details"); d != u.end() && d->is_object()) {
    usage.reasoning_tokens = count_field(*d, "reasoning_tokens").value_or(0);
  }
  return usage;
}

std::string text_field(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The fields of `object` not in `known`, as JSON text, or "" if none.
std::string extra_fields(const json& object, std::initializer_list<const char*> known) {
  json extra = json::object();
  for (auto it = object.begin(); it != object.end(); ++it) {
    bool is_known = false;
    for (const char* k : known) is_known = is_known || it.key() == k;
    if (!is_known && !it.value().is_null()) extra[it.key()] = it.value();
  }
  return extra.empty() ? std::string() : extra.dump();
}

}  // namespace

std::string build_request_body(const router::Request& r, const std::string& upstream_model) {
  std::string out;
  out.reserve(256 + r.passthrough_json.size() + r.prompt.size());
  {
    JsonObjectWriter body(out);
    // What the client sent that dsgw does not interpret goes on unchanged;
    // the fields below are dsgw's to write.
    body.members_of(r.passthrough_json, {"model", "messages", "prompt", "temperature", "top_p", "top_k", "seed",
                                         "max_tokens", "stop", "presence_penalty", "frequency_penalty", "stream",
                                         "stream_options"});
    body.string("model", upstream_model);
    if (r.endpoint == router::Endpoint::kChat) {
      std::string& messages = body.member("messages");
      messages.push_back('[');
      for (size_t i = 0; i < r.messages.size(); ++i) {
        const auto& m = r.messages[i];
        if (i > 0) messages.push_back(',');
        // The message as the client sent it (tool calls, names, content parts).
        const bool has_raw = m.raw_json.size() >= 2 && m.raw_json.front() == '{' && m.raw_json.back() == '}';
        if (has_raw) {
          messages += m.raw_json;
        } else {
          JsonObjectWriter(messages).string("role", m.role).string("content", m.content);
        }
      }
      messages.push_back(']');
    } else {
      body.string("prompt", r.prompt);
    }
    const auto& s = r.sampling;
    if (s.temperature) body.real("temperature", *s.temperature);
    if (s.top_p) body.real("top_p", *s.top_p);
    if (s.top_k) body.number("top_k", static_cast<int64_t>(*s.top_k));
    if (s.seed) body.number("seed", *s.seed);
    if (s.max_tokens) body.number("max_tokens", static_cast<int64_t>(*s.max_tokens));
    if (!s.stop.empty()) {
      std::string& stop = body.member("stop");
      stop.push_back('[');
      for (size_t i = 0; i < s.stop.size(); ++i) {
        if (i > 0) stop.push_back(',');
        append_json_string(stop, s.stop[i]);
      }
      stop.push_back(']');
    }
    if (s.presence_penalty) body.real("presence_penalty", *s.presence_penalty);
    if (s.frequency_penalty) body.real("frequency_penalty", *s.frequency_penalty);
    body.raw("stream", r.stream ? "true" : "false");
    if (r.stream) body.raw("stream_options", R"({"include_usage":true})");
  }
  return out;
}

Status ResponseTranslator::on_object(const json& j, bool whole_message,
                                     std::vector<router::Event>& out) {
  if (auto e = j.find("error"); e != j.end() && !e->is_null()) {
    return make_error(ErrorCode::kUpstreamError, "upstream error: " + upstream_error_message(j.dump()));
  }
  if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
    usage_ = parse_usage(*u);
    has_usage_ = true;
  }
  auto choices = j.find("choices");
  if (choices == j.end() || !choices->is_array() || choices->empty()) return Status::ok();
  const json& choice = choices->front();
  if (!choice.is_object()) return make_error(ErrorCode::kUpstreamError, "upstream sent a malformed choice");

  router::Delta delta;
  if (endpoint_ == router::Endpoint::kCompletion) {
    delta.content = text_field(choice, "text");
  } else {
    auto part = choice.find(whole_message ? "message" : "delta");
    if (part != choice.end() && part->is_object()) {
      delta.content = text_field(*part, "content");
      delta.reasoning = text_field(*part, "reasoning_content");
      delta.delta_extra_json = extra_fields(*part, {"role", "content", "reasoning_content"});
    }
  }
  delta.choice_extra_json =
      extra_fields(choice, {"index", "delta", "message", "text", "finish_reason"});
  if (auto f = choice.find("finish_reason"); f != choice.end() && f->is_string()) {
    finish_reason_ = f->get<std::string>();
  }
  if (!delta.content.empty() || !delta.reasoning.empty() || !delta.delta_extra_json.empty() ||
      !delta.choice_extra_json.empty()) {
    out.emplace_back(std::move(delta));
  }
  return Status::ok();
}

Status ResponseTranslator::on_chunk(std::string_view text, std::vector<router::Event>& out) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return make_error(ErrorCode::kUpstreamError, "upstream sent a stream chunk that is not a JSON object");
  return on_object(j, /*whole_message=*/false, out);
}

Status ResponseTranslator::on_response(std::string_view text, std::vector<router::Event>& out) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return make_error(ErrorCode::kUpstreamError, "upstream sent a response that is not a JSON object");
  Status s = on_object(j, /*whole_message=*/true, out);
  if (s && finish_reason_.empty()) finish_reason_ = "stop";
  return s;
}

Status ResponseTranslator::finish(std::vector<router::Event>& out) {
  if (finish_reason_.empty()) {
    return make_error(ErrorCode::kUpstreamError, "upstream ended the stream before the generation finished");
  }
  if (has_usage_) out.emplace_back(usage_);
  out.emplace_back(router::Finish{finish_reason_});
  return Status::ok();
}

std::string upstream_error_message(std::string_view body) {
  std::string message;
  json j = json::parse(body, nullptr, false);
  if (j.is_object()) {
    if (auto e = j.find("error"); e != j.end()) {
      if (e->is_object()) message = text_field(*e, "message");
      else if (e->is_string()) message = e->get<std::string>();
    }
    if (message.empty()) message = text_field(j, "message");
  }
  if (message.empty()) message = std::string(body);
  if (message.size() > kMaxErrorMessage) message = message.substr(0, kMaxErrorMessage) + "...";
  return message;
}

}  // namespace dsgw::backends::openai
