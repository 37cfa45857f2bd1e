#include "daemon/openai_request.h"

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "common/utf8.h"

namespace dsgw::daemon {
namespace {

using nlohmann::json;
using router::Request;

constexpr int kMaxNesting = 64;

const char* json_type(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    case json::value_t::binary: return "binary";
    case json::value_t::discarded: return "nothing";
    default: return "a number";
  }
}

Error invalid_type(const std::string& field, const char* expected, const json& got) {
  return make_error(ErrorCode::kInvalidRequest,
                    "'" + field + "' must be " + expected + ", got " + json_type(got), field, "invalid_type");
}

Error invalid_value(const std::string& field, const std::string& what) {
  return make_error(ErrorCode::kInvalidRequest, "'" + field + "' " + what, field, "invalid_value");
}

Error missing(const std::string& field) {
  return make_error(ErrorCode::kInvalidRequest, "'" + field + "' is required", field,
                    "missing_required_parameter");
}

// Reads optional typed fields out of the body, erasing each one it reads so
// that what remains is the passthrough.
class FieldReader {
 public:
  explicit FieldReader(json& object) : object_(object) {}

  std::optional<Error> number(const char* key, std::optional<double>& out, double min, double max) {
    auto it = take(key);
    if (!it) return std::nullopt;
    if (!it->is_number()) return invalid_type(key, "a number", *it);
    const double v = it->get<double>();
    if (v < min || v > max) {
      return invalid_value(key, "must be between " + fmt(min) + " and " + fmt(max) + ", got " + fmt(v));
    }
    out = v;
    return std::nullopt;
  }

  template <class Int>
  std::optional<Error> integer(const char* key, std::optional<Int>& out, int64_t min, int64_t max) {
    auto it = take(key);
    if (!it) return std::nullopt;
    if (!it->is_number_integer()) return invalid_type(key, "an integer", *it);
    if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return invalid_value(key, "is too large");
    }
    const int64_t v = it->get<int64_t>();
    if (v < min || v > max) {
      return invalid_value(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                                    ", got " + std::to_string(v));
    }
    out = static_cast<Int>(v);
    return std::nullopt;
  }

  std::optional<Error> boolean(const char* key, bool& out) {
    auto it = take(key);
    if (!it) return std::nullopt;
    if (!it->is_boolean()) return invalid_type(key, "a boolean", *it);
    out = it->get<bool>();
    return std::nullopt;
  }

  // Removes and returns the value at `key`, or nullopt (also for null values).
  std::optional<json> take(const char* key) {
    auto it = object_.find(key);
    if (it == object_.end()) return std::nullopt;
    json value = std::move(*it);
    object_.erase(it);
    if (value.is_null()) return std::nullopt;
    return value;
  }

 private:
  static std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
  }
  json& object_;
};

std::optional<Error> parse_content(const json& content, const std::string& field, std::string& text) {
  if (content.is_null()) return std::nullopt;  // e.g. an assistant turn with tool_calls
  if (content.is_string()) {
    text = content.get<std::string>();
    return std::nullopt;
  }
  if (!content.is_array()) return invalid_type(field, "a string or an array of content parts", content);
  for (size_t i = 0; i < content.size(); ++i) {
    const json& part = content[i];
    const std::string part_field = field + "[" + std::to_string(i) + "]";
    if (!part.is_object()) return invalid_type(part_field, "an object", part);
    auto type = part.find("type");
    if (type == part.end() || !type->is_string()) return missing(part_field + ".type");
    if (*type != "text") continue;  // images, audio: forwarded, not read
    auto t = part.find("text");
    if (t == part.end() || !t->is_string()) return invalid_type(part_field + ".text", "a string", part.value("text", json()));
    text += t->get<std::string>();
  }
  return std::nullopt;
}

std::optional<Error> parse_messages(const json& messages, Request& r) {
  if (!messages.is_array()) return invalid_type("messages", "an array", messages);
  if (messages.empty()) return invalid_value("messages", "must contain at least one message");
  r.messages.reserve(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string field = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return invalid_type(field, "an object", m);
    auto role = m.find("role");
    if (role == m.end()) return missing(field + ".role");
    if (!role->is_string()) return invalid_type(field + ".role", "a string", *role);
    const std::string role_text = role->get<std::string>();
    if (role_text != "system" && role_text != "user" && role_text != "assistant" && role_text != "tool" &&
        role_text != "developer") {
      return invalid_value(field + ".role",
                           "must be one of system, user, assistant, tool, developer; got '" + role_text + "'");
    }
    router::ChatMessage msg;
    msg.role = role_text;
    auto content = m.find("content");
    if (content == m.end()) {
      if (role_text != "assistant") return missing(field + ".content");
    } else if (auto e = parse_content(*content, field + ".content", msg.content)) {
      return e;
    }
    msg.raw_json = m.dump();
    r.messages.push_back(std::move(msg));
  }
  return std::nullopt;
}

std::optional<Error> parse_prompt(const json& prompt, Request& r) {
  if (prompt.is_string()) {
    r.prompt = prompt.get<std::string>();
    return std::nullopt;
  }
  if (prompt.is_array() && prompt.size() == 1 && prompt[0].is_string()) {
    r.prompt = prompt[0].get<std::string>();
    return std::nullopt;
  }
  if (prompt.is_array() && prompt.size() > 1) {
    return invalid_value("prompt", "with several prompts is not supported; send one request per prompt");
  }
  return invalid_type("prompt", "a string", prompt);
}

std::optional<Error> parse_stop(FieldReader& f, Request& r) {
  auto stop = f.take("stop");
  if (!stop) return std::nullopt;
  if (stop->is_string()) {
    r.sampling.stop.push_back(stop->get<std::string>());
    return std::nullopt;
  }
  if (!stop->is_array()) return invalid_type("stop", "a string or an array of strings", *stop);
  for (const auto& s : *stop) {
    if (!s.is_string()) return invalid_type("stop", "a string or an array of strings", s);
    r.sampling.stop.push_back(s.get<std::string>());
  }
  if (r.sampling.stop.size() > 16) return invalid_value("stop", "may hold at most 16 sequences");
  return std::nullopt;
}

// dsgw's routing hints in `metadata`; other metadata keys are passed on.
std::optional<Error> parse_metadata(json& body, Request& r) {
  auto it = body.find("metadata");
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_object()) return invalid_type("metadata", "an object", *it);
  json& meta = *it;
  auto& h = r.hints;
  for (const char* key : {"data_class", "latency_budget_ms", "max_cost_usd", "priority"}) {
    auto v = meta.find(key);
    if (v == meta.end()) continue;
    const std::string field = std::string("metadata.") + key;
    const std::string value = v->is_string() ? v->get<std::string>() : v->dump();
    if (auto s = apply_hint(h, key, value); !s) {
      return invalid_value(field, "is malformed: " + s.error().message);
    }
    meta.erase(v);
  }
  if (meta.empty()) body.erase(it);
  return std::nullopt;
}

std::optional<Error> parse_into(json& body, router::Endpoint endpoint, Request& r) {
  FieldReader f(body);
  auto model = f.take("model");
  if (!model) return missing("model");
  if (!model->is_string()) return invalid_type("model", "a string", *model);
  r.model = model->get<std::string>();

  if (endpoint == router::Endpoint::kChat) {
    auto messages = f.take("messages");
    if (!messages) return missing("messages");
    if (auto e = parse_messages(*messages, r)) return e;
  } else {
    auto prompt = f.take("prompt");
    if (!prompt) return missing("prompt");
    if (auto e = parse_prompt(*prompt, r)) return e;
  }

  if (auto e = f.boolean("stream", r.stream)) return e;
  if (auto opts = f.take("stream_options")) {
    if (!opts->is_object()) return invalid_type("stream_options", "an object", *opts);
    auto inc = opts->find("include_usage");
    if (inc != opts->end() && !inc->is_boolean()) {
      return invalid_type("stream_options.include_usage", "a boolean", *inc);
    }
    r.include_usage = inc != opts->end() && inc->get<bool>();
  }
  std::optional<int> n;
  if (auto e = f.integer("n", n, 1, 1)) return e;

  auto& s = r.sampling;
  if (auto e = f.number("temperature", s.temperature, 0.0, 2.0)) return e;
  if (auto e = f.number("top_p", s.top_p, 0.0, 1.0)) return e;
  if (auto e = f.integer("top_k", s.top_k, -1, 1 << 20)) return e;
  if (auto e = f.integer("seed", s.seed, INT64_MIN, INT64_MAX)) return e;
  if (auto e = f.integer("max_tokens", s.max_tokens, 1, 1 << 24)) return e;
  std::optional<int> max_completion;
  if (auto e = f.integer("max_completion_tokens", max_completion, 1, 1 << 24)) return e;
  if (max_completion) s.max_tokens = max_completion;
  if (auto e = parse_stop(f, r)) return e;
  if (auto e = f.number("presence_penalty", s.presence_penalty, -2.0, 2.0)) return e;
  if (auto e = f.number("frequency_penalty", s.frequency_penalty, -2.0, 2.0)) return e;
  return parse_metadata(body, r);
}

// Whether JSON text nests arrays and objects deeper than `limit`. Checked
// before parsing: serialising a deeply nested value recurses per level.
bool exceeds_nesting(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace

Result<router::Request> parse_openai_request(std::string_view body, router::Endpoint endpoint) {
  if (exceeds_nesting(body, kMaxNesting)) {
    return make_error(ErrorCode::kInvalidRequest,
                      "the request body nests arrays/objects deeper than " + std::to_string(kMaxNesting) +
                          " levels",
                      "", "invalid_json");
  }
  if (auto bad = utf8::first_invalid(body)) {
    return make_error(ErrorCode::kInvalidRequest,
                      "the request body is not valid UTF-8 (first bad byte at offset " + std::to_string(*bad) + ")",
                      "", "invalid_utf8");
  }
  json parsed;
  try {
    parsed = json::parse(body);
  } catch (const json::parse_error& e) {
    return make_error(ErrorCode::kInvalidRequest,
                      "the request body is not valid JSON (at byte " + std::to_string(e.byte) + ")", "",
                      "invalid_json");
  }
  if (!parsed.is_object()) {
    return make_error(ErrorCode::kInvalidRequest,
                      std::string("the request body must be a JSON object, got ") + json_type(parsed), "",
                      "invalid_type");
  }
  Request r;
  r.endpoint = endpoint;
  if (auto e = parse_into(parsed, endpoint, r)) return *e;
  r.passthrough_json = parsed.dump();
  return r;
}

Status apply_hint(router::RouteHints& hints, std::string_view key, std::string_view value) {
  auto as_int = [&](int64_t& out) {
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
    return ec == std::errc() && p == value.data() + value.size();
  };
  if (key == "data_class") {
    if (value.empty()) return make_error(ErrorCode::kInvalidRequest, "data class is empty");
    hints.data_class = std::string(value);
  } else if (key == "latency_budget_ms") {
    int64_t ms = 0;
    if (!as_int(ms) || ms <= 0) {
      return make_error(ErrorCode::kInvalidRequest, "expected a positive integer of milliseconds");
    }
    hints.latency_budget_ms = ms;
  } else if (key == "max_cost_usd") {
    double usd = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), usd);
    if (ec != std::errc() || p != value.data() + value.size() || !std::isfinite(usd) || usd < 0) {
      return make_error(ErrorCode::kInvalidRequest, "expected a non-negative number of US dollars");
    }
    hints.max_cost_usd = usd;
  } else if (key == "priority") {
    int64_t prio = 0;
    if (!as_int(prio) || prio < 0 || prio > 9) {
      return make_error(ErrorCode::kInvalidRequest, "expected an integer priority from 0 to 9");
    }
    hints.priority = static_cast<int>(prio);
  }
  return Status::ok();
}

}  // namespace dsgw::daemon
