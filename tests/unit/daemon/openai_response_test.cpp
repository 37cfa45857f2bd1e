#include "daemon/openai_response.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

using nlohmann::json;
using dsgw::daemon::ChunkEncoder;
using dsgw::daemon::CompletionAggregator;
using dsgw::daemon::ResponseIdentity;
using dsgw::router::Delta;
using dsgw::router::Endpoint;
using dsgw::router::Finish;
using dsgw::router::Usage;

namespace {

ResponseIdentity identity(Endpoint endpoint = Endpoint::kChat) {
  return {endpoint, endpoint == Endpoint::kChat ? "chatcmpl-abc" : "cmpl-abc", "client-model", 1700000000};
}

Delta delta(std::string content, std::string reasoning = {}, std::string delta_extra = {},
            std::string choice_extra = {}) {
  return Delta{std::move(reasoning), std::move(content), std::move(delta_extra), std::move(choice_extra)};
}

// Splits SSE text into its `data:` payloads, checking the framing.
std::vector<std::string> payloads(const std::string& sse) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < sse.size()) {
    REQUIRE(sse.compare(at, 6, "data: ") == 0);
    const size_t end = sse.find("\n\n", at);
    REQUIRE(end != std::string::npos);
    out.push_back(sse.substr(at + 6, end - at - 6));
    at = end + 2;
  }
  return out;
}

json only_payload(const std::string& sse) {
  const auto p = payloads(sse);
  REQUIRE(p.size() == 1);
  return json::parse(p[0]);
}

void check_envelope(const json& j, const char* object) {
  CHECK(j["id"] == "chatcmpl-abc");
  CHECK(j["object"] == object);
  CHECK(j["created"] == 1700000000);
  CHECK(j["model"] == "client-model");
}

Usage usage_of(int64_t prompt, int64_t completion, int64_t cached, int64_t reasoning) {
  Usage u;
  u.prompt_tokens = prompt;
  u.completion_tokens = completion;
  u.cached_prompt_tokens = cached;
  u.reasoning_tokens = reasoning;
  return u;
}

void check_usage(const json& u, int64_t prompt, int64_t completion, int64_t cached, int64_t reasoning) {
  CHECK(u["prompt_tokens"] == prompt);
  CHECK(u["completion_tokens"] == completion);
  CHECK(u["total_tokens"] == prompt + completion);
  CHECK(u["prompt_tokens_details"]["cached_tokens"] == cached);
  CHECK(u["completion_tokens_details"]["reasoning_tokens"] == reasoning);
  CHECK(u["prompt_cache_hit_tokens"] == cached);
  CHECK(u["prompt_cache_miss_tokens"] == prompt - cached);
}

}  // namespace

TEST_CASE("make_identity prefixes the id by endpoint and keeps the client's model") {
  dsgw::router::Request r;
  r.id = "0123";
  r.model = "asked-for";
  const auto chat = dsgw::daemon::make_identity(r);
  CHECK(chat.id == "chatcmpl-0123");
  CHECK(chat.model == "asked-for");
  CHECK(chat.created > 1600000000);
  r.endpoint = Endpoint::kCompletion;
  CHECK(dsgw::daemon::make_identity(r).id == "cmpl-0123");
}

TEST_CASE("ChunkEncoder sends the role once, then reasoning and content deltas") {
  ChunkEncoder enc(identity(), false);
  const json first = only_payload(enc.delta(delta("", "Let me think")));
  check_envelope(first, "chat.completion.chunk");
  REQUIRE(first["choices"].size() == 1);
  const json& c0 = first["choices"][0];
  CHECK(c0["index"] == 0);
  CHECK(c0["delta"]["role"] == "assistant");
  CHECK(c0["delta"]["reasoning_content"] == "Let me think");
  CHECK_FALSE(c0["delta"].contains("content"));
  CHECK(c0["finish_reason"].is_null());

  const json second = only_payload(enc.delta(delta("Hello")));
  const json& d = second["choices"][0]["delta"];
  CHECK_FALSE(d.contains("role"));
  CHECK(d["content"] == "Hello");
  CHECK_FALSE(d.contains("reasoning_content"));
}

TEST_CASE("ChunkEncoder merges upstream extras into the delta and the choice") {
  ChunkEncoder enc(identity(), false);
  const json j = only_payload(enc.delta(delta("", "", R"({"tool_calls":[{"index":0,"id":"call_1"}]})",
                                              R"({"logprobs":{"content":[]}})")));
  const json& choice = j["choices"][0];
  CHECK(choice["delta"]["tool_calls"][0]["id"] == "call_1");
  CHECK(choice["logprobs"] == json{{"content", json::array()}});
  // Garbage extras are ignored rather than breaking the chunk.
  const json k = only_payload(enc.delta(delta("x", "", "not json", "[1]")));
  CHECK(k["choices"][0]["delta"]["content"] == "x");
}

TEST_CASE("ChunkEncoder finishes with the finish chunk, the usage chunk when asked, then [DONE]") {
  ChunkEncoder enc(identity(), true);
  (void)enc.delta(delta("hi"));
  CHECK(enc.usage(usage_of(10, 5, 8, 3)).empty());  // held until finish
  const auto p = payloads(enc.finish(Finish{"stop"}));
  REQUIRE(p.size() == 3);
  const json fin = json::parse(p[0]);
  check_envelope(fin, "chat.completion.chunk");
  CHECK(fin["choices"][0]["finish_reason"] == "stop");
  CHECK(fin["choices"][0]["delta"] == json::object());
  CHECK_FALSE(fin.contains("usage"));
  const json use = json::parse(p[1]);
  check_envelope(use, "chat.completion.chunk");
  CHECK(use["choices"] == json::array());
  check_usage(use["usage"], 10, 5, 8, 3);
  CHECK(p[2] == "[DONE]");
}

TEST_CASE("ChunkEncoder leaves usage out unless include_usage") {
  ChunkEncoder enc(identity(), false);
  (void)enc.usage(usage_of(1, 2, 0, 0));
  const auto p = payloads(enc.finish(Finish{"length"}));
  REQUIRE(p.size() == 2);
  CHECK(json::parse(p[0])["choices"][0]["finish_reason"] == "length");
  CHECK(p[1] == "[DONE]");

  ChunkEncoder no_usage(identity(), true);  // asked, but the backend sent none
  CHECK(payloads(no_usage.finish(Finish{"stop"})).size() == 2);
}

TEST_CASE("ChunkEncoder gives the role in the finish chunk when nothing came before") {
  ChunkEncoder enc(identity(), false);
  const auto p = payloads(enc.finish(Finish{"stop"}));
  REQUIRE(p.size() == 2);
  CHECK(json::parse(p[0])["choices"][0]["delta"]["role"] == "assistant");
}

TEST_CASE("ChunkEncoder::failure sends an error event without [DONE]") {
  const std::string sse = ChunkEncoder::failure(dsgw::make_error(dsgw::ErrorCode::kUpstreamError, "upstream died"));
  CHECK(sse.find("[DONE]") == std::string::npos);
  const json j = only_payload(sse);
  CHECK(j["error"]["message"] == "upstream died");
  CHECK(j["error"]["code"] == "upstream_error");
}

TEST_CASE("ChunkEncoder writes text_completion chunks for completions") {
  ChunkEncoder enc(identity(Endpoint::kCompletion), true);
  const json j = only_payload(enc.delta(delta("Once")));
  CHECK(j["object"] == "text_completion");
  CHECK(j["id"] == "cmpl-abc");
  CHECK(j["choices"][0]["text"] == "Once");
  CHECK_FALSE(j["choices"][0].contains("delta"));
  const auto p = payloads(enc.finish(Finish{"length"}));
  REQUIRE(p.size() == 2);
  CHECK(json::parse(p[0])["choices"][0]["text"] == "");
  CHECK(json::parse(p[0])["choices"][0]["finish_reason"] == "length");
}

TEST_CASE("ChunkEncoder output stays valid JSON for invalid UTF-8 in content") {
  ChunkEncoder enc(identity(), false);
  const json j = only_payload(enc.delta(delta("bad \xFF byte")));
  CHECK(j["choices"][0]["delta"]["content"].get<std::string>().find("bad ") == 0);
}

TEST_CASE("CompletionAggregator concatenates deltas into one chat.completion") {
  CompletionAggregator agg(identity());
  agg.add(delta("", "step 1, "));
  agg.add(delta("", "step 2"));
  agg.add(delta("Hello"));
  agg.add(delta(", world"));
  agg.add(usage_of(12, 4, 10, 2));
  const json j = json::parse(agg.render(Finish{"stop"}));
  check_envelope(j, "chat.completion");
  REQUIRE(j["choices"].size() == 1);
  const json& c = j["choices"][0];
  CHECK(c["index"] == 0);
  CHECK(c["message"]["role"] == "assistant");
  CHECK(c["message"]["content"] == "Hello, world");
  CHECK(c["message"]["reasoning_content"] == "step 1, step 2");
  CHECK(c["finish_reason"] == "stop");
  CHECK(c["logprobs"].is_null());
  check_usage(j["usage"], 12, 4, 10, 2);
}

TEST_CASE("CompletionAggregator answers tool calls with content null") {
  CompletionAggregator agg(identity());
  agg.add(delta("", "", R"({"tool_calls":[{"id":"call_9","type":"function","function":{"name":"f","arguments":"{}"}}]})"));
  const json j = json::parse(agg.render(Finish{"tool_calls"}));
  const json& m = j["choices"][0]["message"];
  CHECK(m["content"].is_null());
  CHECK(m["tool_calls"][0]["id"] == "call_9");
  CHECK_FALSE(m.contains("reasoning_content"));
  CHECK(j["choices"][0]["finish_reason"] == "tool_calls");
  check_usage(j["usage"], 0, 0, 0, 0);
}

TEST_CASE("CompletionAggregator keeps empty content a string without tool calls") {
  CompletionAggregator agg(identity());
  const json j = json::parse(agg.render(Finish{"length"}));
  CHECK(j["choices"][0]["message"]["content"] == "");
}

TEST_CASE("CompletionAggregator merges choice extras such as logprobs") {
  CompletionAggregator agg(identity());
  agg.add(delta("a", "", "", R"({"logprobs":{"content":[{"token":"a"}]}})"));
  const json j = json::parse(agg.render(Finish{"stop"}));
  CHECK(j["choices"][0]["logprobs"]["content"][0]["token"] == "a");
}

TEST_CASE("CompletionAggregator renders text_completion for completions") {
  CompletionAggregator agg(identity(Endpoint::kCompletion));
  agg.add(delta("Once"));
  agg.add(delta(" upon"));
  agg.add(usage_of(3, 2, 0, 0));
  const json j = json::parse(agg.render(Finish{"length"}));
  CHECK(j["object"] == "text_completion");
  CHECK(j["id"] == "cmpl-abc");
  CHECK(j["choices"][0]["text"] == "Once upon");
  CHECK_FALSE(j["choices"][0].contains("message"));
  CHECK(j["choices"][0]["finish_reason"] == "length");
  check_usage(j["usage"], 3, 2, 0, 0);
}
