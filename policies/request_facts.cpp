#include "policies/request_facts.h"

#include <nlohmann/json.hpp>

namespace dsgw::policies {

int64_t estimate_tokens(std::string_view text) {
  int64_t ascii = 0, other = 0;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      ++ascii;
    } else if ((c & 0xC0) != 0x80) {  // a lead byte starts one character
      ++other;
    }
  }
  return (ascii + 3) / 4 + other;
}

namespace {

// Scans every string in a JSON document (keys too), decoded, one at a time:
// escapes such as \uFF11 cannot hide a value, and separate strings (content
// parts, tool-call arguments) cannot run into each other.
void scan_json_strings(const nlohmann::json& j, const pii::Detector& detector, std::vector<pii::Finding>& out) {
  if (j.is_string()) {
    detector.scan(j.get_ref<const std::string&>(), out);
  } else if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      detector.scan(it.key(), out);
      scan_json_strings(it.value(), detector, out);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) scan_json_strings(v, detector, out);
  }
}

// Scans `text` as JSON when it parses (front doors keep what clients sent as
// JSON text), else as plain text.
void scan_json_text(std::string_view text, const pii::Detector& detector, std::vector<pii::Finding>& out) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    detector.scan(text, out);
  } else {
    scan_json_strings(j, detector, out);
  }
}

}  // namespace

void scan_request(const router::Request& request, const pii::Detector& detector, std::vector<pii::Finding>& out) {
  for (const auto& m : request.messages) {
    // The message as it will be forwarded (tool calls, names, content parts
    // and any other field); the text alone when there is no wire form.
    if (m.raw_json.empty()) {
      detector.scan(m.content, out);
    } else {
      scan_json_text(m.raw_json, detector, out);
    }
  }
  detector.scan(request.prompt, out);
  for (const auto& stop : request.sampling.stop) detector.scan(stop, out);
  if (request.passthrough_json.size() > 2) scan_json_text(request.passthrough_json, detector, out);
}

Result<RequestFacts> extract_facts(const router::Request& request, const Policy& policy, const pii::Detector& detector) {
  RequestFacts f;
  f.tenant = request.tenant;
  f.device = request.device;
  f.model = request.model;
  if (const auto& hint = request.hints.data_class) {
    f.hinted_class = policy.class_rank(*hint);
    if (f.hinted_class < 0) {
      std::string known;
      for (const auto& c : policy.classes) known += (known.empty() ? "" : ", ") + c.name;
      return make_error(ErrorCode::kInvalidRequest,
                        "unknown data class \"" + *hint + "\"; the policy defines: " + known, "data_class",
                        "invalid_value");
    }
  }
  if (policy.uses_pii()) scan_request(request, detector, f.findings);
  for (const auto& m : request.messages) f.prompt_tokens += estimate_tokens(m.content) + 4;  // + template tokens
  f.prompt_tokens += estimate_tokens(request.prompt);
  f.max_tokens = request.sampling.max_tokens.value_or(0);
  f.latency_budget_ms = request.hints.latency_budget_ms;
  f.max_cost_usd = request.hints.max_cost_usd;
  f.priority = request.hints.priority;
  return f;
}

}  // namespace dsgw::policies
