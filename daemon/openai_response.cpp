#include "daemon/openai_response.h"

#include <chrono>

#include "common/json_object_writer.h"
#include "daemon/error_mapping.h"

namespace dsgw::daemon {
namespace {

bool is_chat(const ResponseIdentity& id) { return id.endpoint == router::Endpoint::kChat; }

void append_usage(std::string& out, const router::Usage& u) {
  JsonObjectWriter usage(out);
  usage.number("prompt_tokens", u.prompt_tokens)
      .number("completion_tokens", u.completion_tokens)
      .number("total_tokens", u.prompt_tokens + u.completion_tokens);
  { JsonObjectWriter(usage.member("prompt_tokens_details")).number("cached_tokens", u.cached_prompt_tokens); }
  { JsonObjectWriter(usage.member("completion_tokens_details")).number("reasoning_tokens", u.reasoning_tokens); }
  // DeepSeek's names, which its clients read for cost.
  usage.number("prompt_cache_hit_tokens", u.cached_prompt_tokens)
      .number("prompt_cache_miss_tokens", u.prompt_tokens - u.cached_prompt_tokens);
}

void write_envelope(JsonObjectWriter& j, const ResponseIdentity& id, bool chunk) {
  const char* object = is_chat(id) ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  j.string("id", id.id).string("object", object).number("created", id.created).string("model", id.model);
}

// The end of a choice: logprobs (unless the upstream's extras carry them),
// finish_reason (null until the last chunk), then the upstream's extras.
void finish_choice(JsonObjectWriter& choice, const std::string* finish_reason, std::string_view extra_json) {
  if (!has_member(extra_json, "logprobs")) choice.null("logprobs");
  if (finish_reason) {
    choice.string("finish_reason", *finish_reason);
  } else {
    choice.null("finish_reason");
  }
  choice.members_of(extra_json);
}

}  // namespace

ResponseIdentity make_identity(const router::Request& request) {
  const bool chat = request.endpoint == router::Endpoint::kChat;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return {request.endpoint, (chat ? "chatcmpl-" : "cmpl-") + request.id, request.model,
          std::chrono::duration_cast<std::chrono::seconds>(now).count()};
}

std::string ChunkEncoder::chunk(const router::Delta& d, const std::string* finish_reason) {
  std::string out = "data: ";
  {
    JsonObjectWriter j(out);
    write_envelope(j, id_, true);
    std::string& choices = j.member("choices");
    choices.push_back('[');
    {
      JsonObjectWriter choice(choices);
      choice.number("index", 0);
      if (is_chat(id_)) {
        JsonObjectWriter delta(choice.member("delta"));
        if (!sent_role_) delta.string("role", "assistant");
        sent_role_ = true;
        if (!d.reasoning.empty()) delta.string("reasoning_content", d.reasoning);
        if (!d.content.empty()) delta.string("content", d.content);
        delta.members_of(d.delta_extra_json);
      } else {
        choice.string("text", d.content);
      }
      finish_choice(choice, finish_reason, d.choice_extra_json);
    }
    choices.push_back(']');
  }
  out += "\n\n";
  return out;
}

std::string ChunkEncoder::delta(const router::Delta& d) { return chunk(d, nullptr); }

std::string ChunkEncoder::usage(const router::Usage& u) {
  usage_ = u;
  has_usage_ = true;
  return "";
}

std::string ChunkEncoder::finish(const router::Finish& f) {
  std::string out = chunk(router::Delta{}, &f.reason);
  if (include_usage_ && has_usage_) {
    out += "data: ";
    {
      JsonObjectWriter u(out);
      write_envelope(u, id_, true);
      u.raw("choices", "[]");
      append_usage(u.member("usage"), usage_);
    }
    out += "\n\n";
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
  std::string out;
  out.reserve(256 + content_.size() + reasoning_.size() + delta_extra_json_.size() + choice_extra_json_.size());
  {
    JsonObjectWriter j(out);
    write_envelope(j, id_, false);
    std::string& choices = j.member("choices");
    choices.push_back('[');
    {
      JsonObjectWriter choice(choices);
      choice.number("index", 0);
      if (is_chat(id_)) {
        JsonObjectWriter message(choice.member("message"));
        message.string("role", "assistant");
        // A tool call with no text: content is null, as OpenAI sends it.
        if (content_.empty() && has_member(delta_extra_json_, "tool_calls")) {
          message.null("content");
        } else {
          message.string("content", content_);
        }
        if (!reasoning_.empty()) message.string("reasoning_content", reasoning_);
        message.members_of(delta_extra_json_);
      } else {
        choice.string("text", content_);
      }
      finish_choice(choice, &f.reason, choice_extra_json_);
    }
    choices.push_back(']');
    append_usage(j.member("usage"), usage_);
  }
  return out;
}

}  // namespace dsgw::daemon
