// The DeepSeek-R1-distill chat template (R1-Distill-Qwen 1.5B/7B and
// R1-Distill-Llama-8B share it), rendered as segments rather than one string:
// special segments name added tokens by their content, text segments are
// user or model text that the engine encodes WITHOUT parsing special tokens,
// so a user who types "<｜User｜>" gets those characters, not a new turn.
//
//   {bos}{system}<｜User｜>{user}<｜Assistant｜>{answer}<｜end▁of▁sentence｜><｜User｜>…<｜Assistant｜><think>\n
//
// Choices where the reference Jinja template (tokenizer_config.json) is loose:
// - system and developer messages, wherever they appear, are concatenated in
//   order, separated by "\n\n", right after the BOS (the Jinja template keeps
//   only the last one; dropping an instruction silently is worse).
// - consecutive user (or assistant) messages each get their own turn marker,
//   exactly as the Jinja template, llama.cpp and vLLM render them.
// - earlier assistant turns keep only the text after their last "</think>".
// - a trailing assistant message is a prefill, as llama.cpp's server does: the
//   generation prompt is rendered and the message's text follows it, with no
//   end-of-sentence; the model continues it. If the text contains "</think>",
//   the last one becomes the special token and generation continues in the
//   answer; otherwise it continues in the reasoning. A leading "<think>" (and
//   the newline after it) in the prefill is dropped, the prompt has one.
// - tool messages are rejected (kInvalidRequest, subcode "unsupported_role"):
//   the distills were not trained on DeepSeek's tool format and their
//   vocabularies lack its tool tokens; send tool conversations to a remote
//   backend.
// - a conversation needs at least one user message; unknown roles are errors.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "backends/local/chat/reasoning_splitter.h"
#include "common/status.h"
#include "router/request.h"

namespace dsgw::local {

// Added-token contents the template uses (UTF-8: "｜" is U+FF5C, "▁" U+2581).
inline constexpr std::string_view kBosToken = "<｜begin▁of▁sentence｜>";
inline constexpr std::string_view kEosToken = "<｜end▁of▁sentence｜>";
inline constexpr std::string_view kUserToken = "<｜User｜>";
inline constexpr std::string_view kAssistantToken = "<｜Assistant｜>";
inline constexpr std::string_view kThinkStartToken = "<think>";
inline constexpr std::string_view kThinkEndToken = "</think>";

struct PromptSegment {
  enum Kind { kText, kSpecial } kind = kText;
  std::string text;  // kSpecial: the added token's content; kText: raw text

  bool operator==(const PromptSegment&) const = default;
};

struct ChatPrompt {
  // Never two kText segments in a row; no empty kText segment.
  std::vector<PromptSegment> segments;
  // The last message was an assistant prefill (see above).
  bool prefill = false;
  // Where generation starts: in the reasoning unless a prefill closed it
  // with "</think>". Construct the ReasoningSplitter with it.
  GenerationStart start = GenerationStart::kReasoning;
};

// Renders `messages` for generation. Errors are kInvalidRequest with
// param "messages".
Result<ChatPrompt> render_chat_prompt(const std::vector<router::ChatMessage>& messages);

// The prompt as one string (specials inline): for tests and debug logs.
std::string to_display_string(const std::vector<PromptSegment>& segments);

}  // namespace dsgw::local
