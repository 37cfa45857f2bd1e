// Parses OpenAI-format request bodies into native Requests. Everything the
// client may get wrong becomes a 400 naming the field.
#pragma once

#include <string_view>

#include "common/status.h"
#include "router/request.h"

namespace dsgw::daemon {

// Parses the body of POST /v1/chat/completions (kChat) or /v1/completions
// (kCompletion). Fills everything but id, credential and tenant.
Result<router::Request> parse_openai_request(std::string_view body, router::Endpoint endpoint);

// Sets one routing hint from its text form (an X-Dsgw-* header or a body
// `metadata` entry). `key`: data_class | latency_budget_ms | max_cost_usd |
// priority (0-9); other keys are ignored.
Status apply_hint(router::RouteHints& hints, std::string_view key, std::string_view value);

}  // namespace dsgw::daemon
