#include "backends/local/chat/chat_template.h"

#include <utility>

namespace dsgw::local {
namespace {

class SegmentBuilder {
 public:
  void special(std::string_view token) { segments_.push_back({PromptSegment::kSpecial, std::string(token)}); }
  void text(std::string_view text) {
    if (text.empty()) return;
    if (!segments_.empty() && segments_.back().kind == PromptSegment::kText) {
      segments_.back().text.append(text);
    } else {
      segments_.push_back({PromptSegment::kText, std::string(text)});
    }
  }
  std::vector<PromptSegment> take() { return std::move(segments_); }

 private:
  std::vector<PromptSegment> segments_;
};

// What an earlier assistant turn keeps: the text after its last "</think>".
std::string_view answer_part(std::string_view content) {
  size_t end = content.rfind(kThinkEndToken);
  return end == std::string_view::npos ? content : content.substr(end + kThinkEndToken.size());
}

Error invalid(std::string message, std::string subcode) {
  return make_error(ErrorCode::kInvalidRequest, std::move(message), "messages", std::move(subcode));
}

}  // namespace

Result<ChatPrompt> render_chat_prompt(const std::vector<router::ChatMessage>& messages) {
  if (messages.empty()) return invalid("messages must not be empty", "empty_messages");

  std::string system;
  bool has_user = false;
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& role = messages[i].role;
    if (role == "system" || role == "developer") {
      if (!system.empty() && !messages[i].content.empty()) system.append("\n\n");
      system.append(messages[i].content);
    } else if (role == "user") {
      has_user = true;
    } else if (role == "tool") {
      return invalid("messages[" + std::to_string(i) +
                         "]: tool messages are not supported by the local DeepSeek-R1 distills",
                     "unsupported_role");
    } else if (role != "assistant") {
      return invalid("messages[" + std::to_string(i) + "]: unknown role '" + role + "'", "invalid_role");
    }
  }
  if (!has_user) return invalid("messages must contain at least one user message", "no_user_message");

  ChatPrompt prompt;
  SegmentBuilder out;
  out.special(kBosToken);
  out.text(system);
  const size_t last = messages.size() - 1;
  for (size_t i = 0; i < messages.size(); ++i) {
    const router::ChatMessage& m = messages[i];
    if (m.role == "user") {
      out.special(kUserToken);
      out.text(m.content);
    } else if (m.role == "assistant" && i != last) {
      out.special(kAssistantToken);
      out.text(answer_part(m.content));
      out.special(kEosToken);
    }
  }

  out.special(kAssistantToken);
  out.special(kThinkStartToken);
  out.text("\n");
  if (messages[last].role == "assistant") {
    prompt.prefill = true;
    std::string_view content = messages[last].content;
    if (content.starts_with(kThinkStartToken)) {
      content.remove_prefix(kThinkStartToken.size());
      if (content.starts_with('\n')) content.remove_prefix(1);
    }
    size_t end = content.rfind(kThinkEndToken);
    if (end == std::string_view::npos) {
      out.text(content);
    } else {
      out.text(content.substr(0, end));
      out.special(kThinkEndToken);
      std::string_view answer = content.substr(end + kThinkEndToken.size());
      out.text(answer);
      prompt.start = answer.find_first_not_of("\r\n") == std::string_view::npos
                         ? GenerationStart::kAnswerStart
                         : GenerationStart::kAnswer;
    }
  }
  prompt.segments = out.take();
  return prompt;
}

std::string to_display_string(const std::vector<PromptSegment>& segments) {
  std::string s;
  for (const PromptSegment& seg : segments) s.append(seg.text);
  return s;
}

}  // namespace dsgw::local
