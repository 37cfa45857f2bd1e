// The native request every front door produces. Nothing behind the front doors
// sees JSON or topics; fields dsgw does not interpret travel as an opaque JSON
// object that only remote (OpenAI-compatible) backends unpack.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dsgw::router {

enum class Endpoint {
  kChat,        // /v1/chat/completions: messages, chat template applies
  kCompletion,  // /v1/completions: raw prompt
};

struct ChatMessage {
  std::string role;     // system | user | assistant | tool | developer
  std::string content;  // the text parts, concatenated
  // The message exactly as the client sent it (a JSON object), so remote
  // backends forward tool calls, names and content parts unchanged.
  std::string raw_json;
};

struct SamplingParams {
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int> top_k;
  std::optional<int64_t> seed;
  std::optional<int> max_tokens;
  std::vector<std::string> stop;
  std::optional<double> presence_penalty;
  std::optional<double> frequency_penalty;
};

// Routing hints from headers (X-Dsgw-*) or the body's `metadata`.
struct RouteHints {
  std::optional<std::string> data_class;
  std::optional<int64_t> latency_budget_ms;
  std::optional<double> max_cost_usd;
  std::optional<int> priority;
};

struct Request {
  std::string id;
  Endpoint endpoint = Endpoint::kChat;
  std::string model;  // the name the client asked for
  std::vector<ChatMessage> messages;
  std::string prompt;  // kCompletion
  SamplingParams sampling;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  RouteHints hints;
  std::string credential;  // bearer token as presented; cleared once authenticated
  std::string tenant;      // set by authentication
  std::string device;      // MQTT device id; empty for HTTP
  // JSON object text of the top-level fields dsgw does not interpret
  // (tools, tool_choice, response_format, logprobs, ...). "{}" when none.
  std::string passthrough_json = "{}";
  std::chrono::steady_clock::time_point received_at = std::chrono::steady_clock::now();
};

}  // namespace dsgw::router
