#include "daemon/openai_request.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

#include "tests/unit/test_util.h"

using nlohmann::json;
using dsgw::ErrorCode;
using dsgw::daemon::apply_hint;
using dsgw::daemon::parse_openai_request;
using dsgw::router::Endpoint;
using dsgw::router::Request;
using dsgw::router::RouteHints;

namespace {

// A valid chat body with `extra` merged over it (null values remove keys).
std::string chat(const json& extra = json::object()) {
  json body = {{"model", "m1"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  body.merge_patch(extra);
  return body.dump();
}

Request parsed(const std::string& body, Endpoint endpoint = Endpoint::kChat) {
  auto r = parse_openai_request(body, endpoint);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  return std::move(r).value();
}

// The error of a body that must be refused; checks it is a 400-kind error.
dsgw::Error refused(const std::string& body, Endpoint endpoint = Endpoint::kChat) {
  auto r = parse_openai_request(body, endpoint);
  REQUIRE_MESSAGE(!r.has_value(), "accepted: " << body);
  CHECK(r.error().code == ErrorCode::kInvalidRequest);
  return r.error();
}

void check_refused(const std::string& body, const std::string& param, const std::string& subcode) {
  CAPTURE(body);
  const dsgw::Error e = refused(body);
  CHECK(e.param == param);
  CHECK(e.subcode == subcode);
  if (!param.empty()) CHECK(dsgw::test::contains(e.message, param));
}

}  // namespace

TEST_CASE("parse_openai_request reads a chat body") {
  const Request r = parsed(chat({{"stream", true},
                                 {"stream_options", {{"include_usage", true}}},
                                 {"temperature", 0.7},
                                 {"top_p", 1},
                                 {"top_k", 40},
                                 {"seed", -3},
                                 {"max_tokens", 100},
                                 {"stop", "END"},
                                 {"presence_penalty", -2},
                                 {"frequency_penalty", 2.0}}));
  CHECK(r.endpoint == Endpoint::kChat);
  CHECK(r.model == "m1");
  REQUIRE(r.messages.size() == 1);
  CHECK(r.messages[0].role == "user");
  CHECK(r.messages[0].content == "hi");
  CHECK(json::parse(r.messages[0].raw_json) == json{{"role", "user"}, {"content", "hi"}});
  CHECK(r.stream);
  CHECK(r.include_usage);
  CHECK(r.sampling.temperature == 0.7);
  CHECK(r.sampling.top_p == 1.0);
  CHECK(r.sampling.top_k == 40);
  CHECK(r.sampling.seed == -3);
  CHECK(r.sampling.max_tokens == 100);
  CHECK(r.sampling.stop == std::vector<std::string>{"END"});
  CHECK(r.sampling.presence_penalty == -2.0);
  CHECK(r.sampling.frequency_penalty == 2.0);
  CHECK(json::parse(r.passthrough_json) == json::object());
}

TEST_CASE("parse_openai_request leaves unset fields unset") {
  const Request r = parsed(chat({{"temperature", nullptr}, {"stream", nullptr}}));
  CHECK_FALSE(r.stream);
  CHECK_FALSE(r.include_usage);
  CHECK_FALSE(r.sampling.temperature.has_value());
  CHECK_FALSE(r.sampling.max_tokens.has_value());
  CHECK(r.sampling.stop.empty());
  CHECK_FALSE(r.hints.priority.has_value());
}

TEST_CASE("parse_openai_request reads a completions body") {
  const Request r = parsed(R"({"model":"m","prompt":"Once upon","max_completion_tokens":5,"stop":["a","b"]})",
                           Endpoint::kCompletion);
  CHECK(r.endpoint == Endpoint::kCompletion);
  CHECK(r.prompt == "Once upon");
  CHECK(r.messages.empty());
  CHECK(r.sampling.max_tokens == 5);
  CHECK(r.sampling.stop == std::vector<std::string>{"a", "b"});
  CHECK(parsed(R"({"model":"m","prompt":["single"]})", Endpoint::kCompletion).prompt == "single");

  const dsgw::Error several = refused(R"({"model":"m","prompt":["a","b"]})", Endpoint::kCompletion);
  CHECK(several.param == "prompt");
  CHECK(several.subcode == "invalid_value");
  const dsgw::Error wrong = refused(R"({"model":"m","prompt":5})", Endpoint::kCompletion);
  CHECK(wrong.param == "prompt");
  CHECK(wrong.subcode == "invalid_type");
  const dsgw::Error none = refused(R"({"model":"m","messages":[]})", Endpoint::kCompletion);
  CHECK(none.param == "prompt");
  CHECK(none.subcode == "missing_required_parameter");
}

TEST_CASE("parse_openai_request refuses invalid UTF-8 naming the offset") {
  const std::string body = std::string(R"({"model":"m)") + "\xC0\x80" + R"(","messages":[]})";
  const dsgw::Error e = refused(body);
  CHECK(e.subcode == "invalid_utf8");
  CHECK(dsgw::test::contains(e.message, "offset 11"));
}

TEST_CASE("parse_openai_request refuses invalid JSON and non-objects") {
  for (const char* bad : {"", "{", "{\"model\":}", "{\"a\":1} trailing", "{'model':'m'}", "{\"s\":\"\\ud800\"}"}) {
    CAPTURE(bad);
    const dsgw::Error e = refused(bad);
    CHECK(e.subcode == "invalid_json");
    CHECK(e.param.empty());
  }
  for (const char* bad : {"[]", "\"text\"", "42", "null"}) {
    CAPTURE(bad);
    CHECK(refused(bad).subcode == "invalid_type");
  }
}

TEST_CASE("parse_openai_request names missing required fields") {
  check_refused(R"({"messages":[{"role":"user","content":"x"}]})", "model", "missing_required_parameter");
  check_refused(R"({"model":null,"messages":[{"role":"user","content":"x"}]})", "model", "missing_required_parameter");
  check_refused(R"({"model":"m"})", "messages", "missing_required_parameter");
  check_refused(R"({"model":"m","messages":[{"content":"x"}]})", "messages[0].role", "missing_required_parameter");
  check_refused(R"({"model":"m","messages":[{"role":"user"}]})", "messages[0].content", "missing_required_parameter");
  check_refused(R"({"model":"m","messages":[{"role":"user","content":[{"text":"x"}]}]})",
                "messages[0].content[0].type", "missing_required_parameter");
  // An assistant turn may omit content (tool calls).
  const Request r = parsed(R"({"model":"m","messages":[{"role":"assistant","tool_calls":[]},{"role":"user","content":"x"}]})");
  CHECK(r.messages.size() == 2);
  CHECK(r.messages[0].content.empty());
}

TEST_CASE("parse_openai_request names each wrongly typed field") {
  check_refused(chat({{"model", 5}}), "model", "invalid_type");
  check_refused(chat({{"messages", "hi"}}), "messages", "invalid_type");
  check_refused(chat({{"messages", {"hi"}}}), "messages[0]", "invalid_type");
  check_refused(chat({{"messages", {{{"role", 1}, {"content", "x"}}}}}), "messages[0].role", "invalid_type");
  check_refused(chat({{"messages", {{{"role", "user"}, {"content", 1}}}}}), "messages[0].content", "invalid_type");
  check_refused(chat({{"messages", {{{"role", "user"}, {"content", {1}}}}}}), "messages[0].content[0]", "invalid_type");
  check_refused(chat({{"messages", {{{"role", "user"}, {"content", {{{"type", "text"}, {"text", 1}}}}}}}}),
                "messages[0].content[0].text", "invalid_type");
  check_refused(chat({{"temperature", "hot"}}), "temperature", "invalid_type");
  check_refused(chat({{"top_p", true}}), "top_p", "invalid_type");
  check_refused(chat({{"max_tokens", 1.5}}), "max_tokens", "invalid_type");
  check_refused(chat({{"max_tokens", "10"}}), "max_tokens", "invalid_type");
  check_refused(chat({{"stream", "yes"}}), "stream", "invalid_type");
  check_refused(chat({{"stop", 5}}), "stop", "invalid_type");
  check_refused(chat({{"stop", {"a", 1}}}), "stop", "invalid_type");
  check_refused(chat({{"stream_options", true}}), "stream_options", "invalid_type");
  check_refused(chat({{"stream_options", {{"include_usage", "yes"}}}}), "stream_options.include_usage", "invalid_type");
  check_refused(chat({{"seed", 1.5}}), "seed", "invalid_type");
  check_refused(chat({{"metadata", "x"}}), "metadata", "invalid_type");
}

TEST_CASE("parse_openai_request refuses out-of-range values") {
  check_refused(chat({{"temperature", 2.5}}), "temperature", "invalid_value");
  check_refused(chat({{"temperature", -0.1}}), "temperature", "invalid_value");
  check_refused(chat({{"top_p", 1.01}}), "top_p", "invalid_value");
  check_refused(chat({{"top_k", -2}}), "top_k", "invalid_value");
  check_refused(chat({{"max_tokens", 0}}), "max_tokens", "invalid_value");
  check_refused(chat({{"max_tokens", 1 << 25}}), "max_tokens", "invalid_value");
  check_refused(chat({{"max_completion_tokens", 0}}), "max_completion_tokens", "invalid_value");
  check_refused(chat({{"presence_penalty", 3}}), "presence_penalty", "invalid_value");
  check_refused(chat({{"frequency_penalty", -2.5}}), "frequency_penalty", "invalid_value");
  check_refused(chat({{"messages", json::array()}}), "messages", "invalid_value");
  check_refused(chat({{"messages", {{{"role", "wizard"}, {"content", "x"}}}}}), "messages[0].role", "invalid_value");
  json many = json::array();
  for (int i = 0; i < 17; ++i) many.push_back(std::string(static_cast<size_t>(i + 1), 's'));
  check_refused(chat({{"stop", many}}), "stop", "invalid_value");
  // Bounds themselves are fine.
  const Request r = parsed(chat({{"temperature", 0}, {"top_p", 0}, {"max_tokens", 1}, {"top_k", -1}}));
  CHECK(r.sampling.temperature == 0.0);
  CHECK(r.sampling.top_k == -1);
}

TEST_CASE("parse_openai_request refuses n > 1 and accepts n = 1") {
  check_refused(chat({{"n", 2}}), "n", "invalid_value");
  check_refused(chat({{"n", 0}}), "n", "invalid_value");
  const Request r = parsed(chat({{"n", 1}}));
  CHECK(json::parse(r.passthrough_json) == json::object());  // n is not passed on
}

// Regression test; it used to fail: FieldReader::integer reads an unsigned JSON integer above INT64_MAX
// with get<int64_t>(), which wraps: "seed": 18446744073709551615 is accepted
// as seed -1 (and forwarded upstream as -1) instead of being refused.
TEST_CASE("parse_openai_request refuses integers past int64") {
  auto r = parse_openai_request(chat().replace(1, 0, "\"seed\":18446744073709551615,"), Endpoint::kChat);
  CHECK_FALSE(r.has_value());
}

TEST_CASE("parse_openai_request flattens text content parts and keeps the raw message") {
  const Request r = parsed(chat({{"messages",
                                  {{{"role", "user"},
                                    {"content",
                                     {{{"type", "text"}, {"text", "Hello, "}},
                                      {{"type", "image_url"}, {"image_url", {{"url", "data:x"}}}},
                                      {{"type", "text"}, {"text", "world"}}}}}}}}));
  REQUIRE(r.messages.size() == 1);
  CHECK(r.messages[0].content == "Hello, world");
  const json raw = json::parse(r.messages[0].raw_json);
  CHECK(raw["content"].size() == 3);
  CHECK(raw["content"][1]["type"] == "image_url");
}

TEST_CASE("parse_openai_request passes on uninterpreted fields only") {
  const Request r = parsed(chat({{"tools", {{{"type", "function"}, {"function", {{"name", "f"}}}}}},
                                 {"tool_choice", "auto"},
                                 {"response_format", {{"type", "json_object"}}},
                                 {"logprobs", true},
                                 {"x_vendor_flag", 1},
                                 {"temperature", 1},
                                 {"stream", false},
                                 {"max_tokens", 9}}));
  const json p = json::parse(r.passthrough_json);
  CHECK(p["tools"][0]["function"]["name"] == "f");
  CHECK(p["tool_choice"] == "auto");
  CHECK(p["response_format"]["type"] == "json_object");
  CHECK(p["logprobs"] == true);
  CHECK(p["x_vendor_flag"] == 1);
  for (const char* interpreted : {"model", "messages", "temperature", "stream", "max_tokens"}) {
    CAPTURE(interpreted);
    CHECK_FALSE(p.contains(interpreted));
  }
}

TEST_CASE("parse_openai_request takes routing hints out of metadata and keeps other metadata") {
  const Request r = parsed(chat({{"metadata",
                                  {{"data_class", "confidential"},
                                   {"latency_budget_ms", 1500},
                                   {"max_cost_usd", "0.25"},
                                   {"priority", "7"},
                                   {"user_tag", "abc"}}}}));
  CHECK(r.hints.data_class == "confidential");
  CHECK(r.hints.latency_budget_ms == 1500);
  CHECK(r.hints.max_cost_usd == 0.25);
  CHECK(r.hints.priority == 7);
  const json p = json::parse(r.passthrough_json);
  CHECK(p["metadata"] == json{{"user_tag", "abc"}});

  const Request only_hints = parsed(chat({{"metadata", {{"priority", 1}}}}));
  CHECK(only_hints.hints.priority == 1);
  CHECK_FALSE(json::parse(only_hints.passthrough_json).contains("metadata"));

  check_refused(chat({{"metadata", {{"priority", 12}}}}), "metadata.priority", "invalid_value");
  check_refused(chat({{"metadata", {{"latency_budget_ms", "soon"}}}}), "metadata.latency_budget_ms", "invalid_value");
}

TEST_CASE("apply_hint sets each hint from its text form") {
  RouteHints h;
  CHECK(apply_hint(h, "data_class", "public").is_ok());
  CHECK(h.data_class == "public");
  CHECK(apply_hint(h, "latency_budget_ms", "250").is_ok());
  CHECK(h.latency_budget_ms == 250);
  CHECK(apply_hint(h, "max_cost_usd", "0").is_ok());
  CHECK(h.max_cost_usd == 0.0);
  CHECK(apply_hint(h, "max_cost_usd", "1.5").is_ok());
  CHECK(h.max_cost_usd == 1.5);
  CHECK(apply_hint(h, "priority", "0").is_ok());
  CHECK(h.priority == 0);
  CHECK(apply_hint(h, "priority", "9").is_ok());
  CHECK(h.priority == 9);
  CHECK(apply_hint(h, "unknown_key", "whatever").is_ok());  // ignored
}

TEST_CASE("apply_hint refuses bad values and leaves the hint alone") {
  RouteHints h;
  h.priority = 3;
  h.latency_budget_ms = 100;
  h.max_cost_usd = 2.0;
  h.data_class = "kept";
  const std::pair<const char*, const char*> bad[] = {
      {"data_class", ""},          {"latency_budget_ms", "0"},  {"latency_budget_ms", "-5"},
      {"latency_budget_ms", "1.5"}, {"latency_budget_ms", "12ms"}, {"latency_budget_ms", ""},
      {"max_cost_usd", "-1"},      {"max_cost_usd", "cheap"},   {"max_cost_usd", "1.0x"},
      {"priority", "10"},          {"priority", "-1"},          {"priority", "high"},
      {"priority", " 1"},
  };
  for (const auto& [key, value] : bad) {
    CAPTURE(key);
    CAPTURE(value);
    const dsgw::Status s = apply_hint(h, key, value);
    REQUIRE_FALSE(s.is_ok());
    CHECK(s.error().code == ErrorCode::kInvalidRequest);
  }
  CHECK(h.priority == 3);
  CHECK(h.latency_budget_ms == 100);
  CHECK(h.max_cost_usd == 2.0);
  CHECK(h.data_class == "kept");
}

// Regression test; it used to fail: apply_hint("max_cost_usd", "nan") is accepted: std::from_chars parses
// "nan" and `usd < 0` is false for NaN, so the hint becomes NaN, which every
// later cost comparison silently ignores. Expected: refused like "-1".
TEST_CASE("apply_hint refuses a NaN cost") {
  RouteHints h;
  CHECK_FALSE(apply_hint(h, "max_cost_usd", "nan").is_ok());
  CHECK_FALSE(h.max_cost_usd.has_value());
}

// Regression test; it used to fail: a body nested deeply enough in an uninterpreted field crashes the
// process: nlohmann's parser is iterative, but parse_openai_request's
// passthrough_json = parsed.dump() recurses once per level and overflows the
// stack (here 200000 levels, a 400 kB body, under the 4 MiB default limit).
// Expected: a 400 (e.g. invalid_json "nested too deeply"), not SIGSEGV.
TEST_CASE("parse_openai_request survives deeply nested JSON") {
  constexpr int kDepth = 200000;
  std::string body = R"({"model":"m","messages":[{"role":"user","content":"x"}],"deep":)";
  body += std::string(kDepth, '[') + std::string(kDepth, ']') + "}";
  auto r = parse_openai_request(body, Endpoint::kChat);
  CHECK((r.has_value() || r.error().code == ErrorCode::kInvalidRequest));
}
