#include "backends/openai/upstream_wire.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

using nlohmann::json;
using dsgw::ErrorCode;
using dsgw::Status;
using dsgw::backends::openai::build_request_body;
using dsgw::backends::openai::ResponseTranslator;
using dsgw::backends::openai::upstream_error_message;
using dsgw::router::Delta;
using dsgw::router::Endpoint;
using dsgw::router::Event;
using dsgw::router::Finish;
using dsgw::router::Usage;
using Events = std::vector<Event>;

namespace {

dsgw::router::Request chat_request() {
  dsgw::router::Request r;
  r.model = "client-name";
  r.messages.push_back({"system", "be brief", R"({"role":"system","content":"be brief"})"});
  r.messages.push_back({"user", "hi", R"({"role":"user","content":[{"type":"text","text":"hi"}],"name":"bob"})"});
  r.passthrough_json = R"({"tools":[{"type":"function","function":{"name":"f"}}],"user":"u1","model":"evil"})";
  return r;
}

const Delta& delta_at(const Events& events, size_t i) {
  REQUIRE(i < events.size());
  REQUIRE(std::holds_alternative<Delta>(events[i]));
  return std::get<Delta>(events[i]);
}

// Feeds each chunk, then finish(); requires every step to succeed.
Events translate_stream(Endpoint endpoint, const std::vector<std::string>& chunks) {
  ResponseTranslator tr(endpoint);
  Events out;
  for (const auto& c : chunks) {
    CAPTURE(c);
    const Status s = tr.on_chunk(c, out);
    REQUIRE(s.is_ok());
  }
  const Status s = tr.finish(out);
  REQUIRE(s.is_ok());
  return out;
}

}  // namespace

TEST_CASE("build_request_body replaces the model and keeps passthrough fields and raw messages") {
  const json body = json::parse(build_request_body(chat_request(), "deepseek-chat"));
  CHECK(body["model"] == "deepseek-chat");
  CHECK(body["user"] == "u1");
  REQUIRE(body["tools"].is_array());
  CHECK(body["tools"][0]["function"]["name"] == "f");
  REQUIRE(body["messages"].size() == 2);
  CHECK(body["messages"][0] == json{{"role", "system"}, {"content", "be brief"}});
  // The message as the client sent it: content parts and name intact.
  CHECK(body["messages"][1]["content"].is_array());
  CHECK(body["messages"][1]["content"][0]["text"] == "hi");
  CHECK(body["messages"][1]["name"] == "bob");
  CHECK_FALSE(body.contains("prompt"));
}

TEST_CASE("build_request_body sends only the sampling fields that were set") {
  auto r = chat_request();
  json body = json::parse(build_request_body(r, "m"));
  for (const char* k : {"temperature", "top_p", "top_k", "seed", "max_tokens", "stop",
                        "presence_penalty", "frequency_penalty", "stream_options"}) {
    CAPTURE(k);
    CHECK_FALSE(body.contains(k));
  }
  CHECK(body["stream"] == false);

  r.sampling.temperature = 0.5;
  r.sampling.top_p = 0.9;
  r.sampling.top_k = 40;
  r.sampling.seed = -7;
  r.sampling.max_tokens = 128;
  r.sampling.stop = {"END", "\n\n"};
  r.sampling.presence_penalty = -1.5;
  r.sampling.frequency_penalty = 0.25;
  body = json::parse(build_request_body(r, "m"));
  CHECK(body["temperature"] == 0.5);
  CHECK(body["top_p"] == 0.9);
  CHECK(body["top_k"] == 40);
  CHECK(body["seed"] == -7);
  CHECK(body["max_tokens"] == 128);
  CHECK(body["stop"] == json::array({"END", "\n\n"}));
  CHECK(body["presence_penalty"] == -1.5);
  CHECK(body["frequency_penalty"] == 0.25);
}

TEST_CASE("build_request_body asks streams for usage") {
  auto r = chat_request();
  r.stream = true;
  const json body = json::parse(build_request_body(r, "m"));
  CHECK(body["stream"] == true);
  CHECK(body["stream_options"] == json{{"include_usage", true}});
}

TEST_CASE("build_request_body writes prompt for completions and survives odd passthrough") {
  dsgw::router::Request r;
  r.endpoint = Endpoint::kCompletion;
  r.prompt = "Once upon";
  r.passthrough_json = "not json";
  const json body = json::parse(build_request_body(r, "m"));
  CHECK(body["prompt"] == "Once upon");
  CHECK(body["model"] == "m");
  CHECK_FALSE(body.contains("messages"));

  dsgw::router::Request chat;
  chat.messages.push_back({"user", "text", "broken raw"});  // falls back to role + content
  const json b2 = json::parse(build_request_body(chat, "m"));
  CHECK(b2["messages"][0] == json{{"role", "user"}, {"content", "text"}});
}

TEST_CASE("ResponseTranslator turns DeepSeek chat chunks into deltas, usage and finish") {
  const Events out = translate_stream(Endpoint::kChat, {
      R"({"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":null,"reasoning_content":""},"logprobs":null,"finish_reason":null}]})",
      R"({"choices":[{"index":0,"delta":{"content":null,"reasoning_content":"think"},"finish_reason":null}]})",
      R"({"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]})",
      R"({"choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop"}],"usage":null})",
      R"({"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_cache_hit_tokens":8,"prompt_cache_miss_tokens":2,"completion_tokens_details":{"reasoning_tokens":3}}})",
  });
  // The role-only first chunk says nothing; then reasoning, content, usage, finish.
  REQUIRE(out.size() == 4);
  CHECK(delta_at(out, 0).reasoning == "think");
  CHECK(delta_at(out, 0).content.empty());
  CHECK(delta_at(out, 1).content == "Hi");
  CHECK(delta_at(out, 1).delta_extra_json.empty());
  CHECK(delta_at(out, 1).choice_extra_json.empty());
  REQUIRE(std::holds_alternative<Usage>(out[2]));
  const Usage& u = std::get<Usage>(out[2]);
  CHECK(u.prompt_tokens == 10);
  CHECK(u.completion_tokens == 5);
  CHECK(u.cached_prompt_tokens == 8);
  CHECK(u.reasoning_tokens == 3);
  REQUIRE(std::holds_alternative<Finish>(out[3]));
  CHECK(std::get<Finish>(out[3]).reason == "stop");
}

TEST_CASE("ResponseTranslator reads OpenAI's cached_tokens and passes tool_calls and logprobs on") {
  const Events out = translate_stream(Endpoint::kChat, {
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"f","arguments":"{}"}}]},"logprobs":{"content":[{"token":"a","logprob":-0.1}]},"finish_reason":null}]})",
      R"({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})",
      R"({"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":4}}})",
  });
  REQUIRE(out.size() == 3);
  const Delta& d = delta_at(out, 0);
  const json delta_extra = json::parse(d.delta_extra_json);
  REQUIRE(delta_extra.contains("tool_calls"));
  CHECK(delta_extra["tool_calls"][0]["id"] == "call_1");
  CHECK_FALSE(delta_extra.contains("content"));
  const json choice_extra = json::parse(d.choice_extra_json);
  CHECK(choice_extra["logprobs"]["content"][0]["token"] == "a");
  CHECK_FALSE(choice_extra.contains("index"));
  CHECK_FALSE(choice_extra.contains("finish_reason"));
  REQUIRE(std::holds_alternative<Usage>(out[1]));
  CHECK(std::get<Usage>(out[1]).prompt_tokens == 7);
  CHECK(std::get<Usage>(out[1]).cached_prompt_tokens == 4);
  CHECK(std::get<Finish>(out[2]).reason == "tool_calls");
}

TEST_CASE("ResponseTranslator without usage ends with Finish only") {
  const Events out = translate_stream(Endpoint::kChat, {
      R"({"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"length"}]})",
  });
  REQUIRE(out.size() == 2);
  CHECK(delta_at(out, 0).content == "a");
  CHECK(std::get<Finish>(out[1]).reason == "length");
}

TEST_CASE("ResponseTranslator fails a stream that ends without a finish_reason") {
  ResponseTranslator tr(Endpoint::kChat);
  Events out;
  REQUIRE(tr.on_chunk(R"({"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]})", out));
  const Status s = tr.finish(out);
  REQUIRE_FALSE(s.is_ok());
  CHECK(s.error().code == ErrorCode::kUpstreamError);
  CHECK(out.size() == 1);  // the delta only, no Finish
}

TEST_CASE("ResponseTranslator fails on an error chunk and on chunks that are not JSON objects") {
  ResponseTranslator tr(Endpoint::kChat);
  Events out;
  const Status s = tr.on_chunk(R"({"error":{"message":"rate limit reached","type":"x"}})", out);
  REQUIRE_FALSE(s.is_ok());
  CHECK(s.error().code == ErrorCode::kUpstreamError);
  CHECK(s.error().message.find("rate limit reached") != std::string::npos);

  for (const char* bad : {"[1,2]", "not json", "\"text\"", "{\"choices\":[1]}"}) {
    CAPTURE(bad);
    ResponseTranslator t(Endpoint::kChat);
    const Status b = t.on_chunk(bad, out);
    REQUIRE_FALSE(b.is_ok());
    CHECK(b.error().code == ErrorCode::kUpstreamError);
  }
  // "error": null is not an error.
  ResponseTranslator ok(Endpoint::kChat);
  CHECK(ok.on_chunk(R"({"error":null,"choices":[]})", out).is_ok());
}

TEST_CASE("ResponseTranslator reads a whole non-stream chat response") {
  ResponseTranslator tr(Endpoint::kChat);
  Events out;
  REQUIRE(tr.on_response(R"({"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hello","reasoning_content":"hmm","tool_calls":[{"id":"c"}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}})", out));
  REQUIRE(tr.finish(out));
  REQUIRE(out.size() == 3);
  const Delta& d = delta_at(out, 0);
  CHECK(d.content == "Hello");
  CHECK(d.reasoning == "hmm");
  CHECK(json::parse(d.delta_extra_json)["tool_calls"][0]["id"] == "c");
  CHECK(std::get<Usage>(out[1]).prompt_tokens == 3);
  CHECK(std::get<Finish>(out[2]).reason == "stop");
}

TEST_CASE("ResponseTranslator defaults a non-stream response without finish_reason to stop") {
  ResponseTranslator tr(Endpoint::kChat);
  Events out;
  REQUIRE(tr.on_response(R"({"choices":[{"message":{"content":"x"}}]})", out));
  REQUIRE(tr.finish(out));
  CHECK(std::get<Finish>(out.back()).reason == "stop");

  ResponseTranslator bad(Endpoint::kChat);
  CHECK_FALSE(bad.on_response("<html>502</html>", out).is_ok());
}

TEST_CASE("ResponseTranslator reads completions' text, streamed and whole") {
  const Events streamed = translate_stream(Endpoint::kCompletion, {
      R"({"choices":[{"index":0,"text":"Once","finish_reason":null}]})",
      R"({"choices":[{"index":0,"text":" upon","finish_reason":"length"}]})",
  });
  REQUIRE(streamed.size() == 3);
  CHECK(delta_at(streamed, 0).content == "Once");
  CHECK(delta_at(streamed, 1).content == " upon");
  CHECK(std::get<Finish>(streamed[2]).reason == "length");

  ResponseTranslator tr(Endpoint::kCompletion);
  Events out;
  REQUIRE(tr.on_response(R"({"choices":[{"text":"whole","finish_reason":"stop"}]})", out));
  REQUIRE(tr.finish(out));
  CHECK(delta_at(out, 0).content == "whole");
}

// Regression test; it used to fail: parse_usage() (upstream_wire.cpp) uses nlohmann's json::value(), which
// throws type_error when a usage field is present but not a number, e.g.
// {"usage":{"prompt_tokens":null}}. on_chunk() then throws out of the backend
// (whose generate() must never throw) instead of returning a Status; the
// pipeline reports it as an internal error (500) rather than an upstream one.
TEST_CASE("ResponseTranslator does not throw on usage fields of the wrong type") {
  for (const char* chunk : {R"({"choices":[],"usage":{"prompt_tokens":null,"completion_tokens":1}})",
                            R"({"choices":[],"usage":{"prompt_tokens":"12"}})",
                            R"({"choices":[],"usage":{"prompt_tokens_details":{"cached_tokens":"4"}}})"}) {
    CAPTURE(chunk);
    ResponseTranslator tr(Endpoint::kChat);
    Events out;
    CHECK_NOTHROW((void)tr.on_chunk(chunk, out));
  }
}

TEST_CASE("upstream_error_message finds the message in OpenAI, flat and plain bodies") {
  CHECK(upstream_error_message(R"({"error":{"message":"Insufficient Balance","type":"x"}})") ==
        "Insufficient Balance");
  CHECK(upstream_error_message(R"({"error":"model not loaded"})") == "model not loaded");
  CHECK(upstream_error_message(R"({"message":"flat"})") == "flat");
  CHECK(upstream_error_message("Bad Gateway") == "Bad Gateway");
  // An object without a message falls back to the body.
  CHECK(upstream_error_message(R"({"detail":"x"})") == R"({"detail":"x"})");
}

TEST_CASE("upstream_error_message shortens long bodies") {
  const std::string long_body(5000, 'e');
  const std::string m = upstream_error_message(long_body);
  CHECK(m.size() < 1000);
  CHECK(m.size() > 100);
  CHECK(m.substr(m.size() - 3) == "...");
  CHECK(m.substr(0, 100) == long_body.substr(0, 100));
}
