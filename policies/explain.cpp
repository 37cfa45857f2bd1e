#include "policies/explain.h"

#include <algorithm>
#include <cstdio>

#include "common/json_escape.h"

namespace dsgw::policies {
namespace {

using nlohmann::json;

std::string usd(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "$%.6f", v);
  return buf;
}

json class_name_or_null(const Policy& policy, int rank) {
  return rank >= 0 ? json(policy.classes[static_cast<size_t>(rank)].name) : json(nullptr);
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

json rule_ids(const Policy& policy, const std::vector<int>& indices) {
  json ids = json::array();
  for (int i : indices) ids.push_back(policy.rules[static_cast<size_t>(i)].id);
  return ids;
}

}  // namespace

json pii_names(PiiMask mask) {
  json names = json::array();
  for (int i = 0; i < kPiiTypeCount; ++i) {
    if (mask & (PiiMask{1} << i)) names.push_back(std::string(pii::name(static_cast<PiiType>(i))));
  }
  return names;
}

std::string candidate_reason(const Policy& policy, const Decision& d, const Candidate& c, const BackendState& state,
                             const RequestFacts& facts) {
  const BackendProfile& b = policy.backends[static_cast<size_t>(c.backend)];
  const auto rule = [&] { return "\"" + policy.rules[static_cast<size_t>(c.rule)].id + "\""; };
  switch (c.verdict) {
    case Verdict::kKept:
      if (c.over_latency_budget) {
        return "kept, but tried after the others: predicted " + std::to_string(static_cast<int64_t>(c.latency_ms)) +
               " ms exceeds the latency budget of " + std::to_string(*d.latency_budget_ms) + " ms";
      }
      return "kept";
    case Verdict::kModelNotServed: return "does not serve the model \"" + facts.model + "\"";
    case Verdict::kSovereignty: {
      const DataClass& cls = policy.classes[static_cast<size_t>(d.data_class)];
      return "sovereignty: data class \"" + cls.name + "\" may go to " + joined(cls.jurisdictions) +
             ", not to jurisdiction \"" + b.jurisdiction + "\"";
    }
    case Verdict::kDeniedByRule: return "denied by rule " + rule();
    case Verdict::kNotAllowedByRule: return "not in the allow list of rule " + rule();
    case Verdict::kUnusable: return "not usable: " + state.unusable_reason;
    case Verdict::kCircuitOpen: return "circuit breaker open after repeated failures";
    case Verdict::kOverMaxCost:
      return "estimated " + usd(c.cost_usd) + " exceeds the request's max cost " + usd(*facts.max_cost_usd);
    case Verdict::kOverBudget:
      return "estimated " + usd(c.cost_usd) + " exceeds the tenant's remaining budget " + usd(*d.remaining_usd);
  }
  return {};
}

json explain_json(const Policy& policy, const RequestFacts& facts, const Decision& d,
                  std::span<const BackendState> backends) {
  json findings = json::array();
  for (const auto& f : facts.findings) {
    findings.push_back({{"type", std::string(pii::name(f.type))}, {"confidence", f.confidence}});
  }
  json candidates = json::array();
  for (const auto& c : d.candidates) {
    const auto rank = std::find(d.order.begin(), d.order.end(), c.backend);
    json entry = {
        {"backend", policy.backends[static_cast<size_t>(c.backend)].name},
        {"jurisdiction", policy.backends[static_cast<size_t>(c.backend)].jurisdiction},
        {"verdict", std::string(verdict_name(c.verdict))},
        {"reason", candidate_reason(policy, d, c, backends[static_cast<size_t>(c.backend)], facts)},
        {"rank", rank == d.order.end() ? json(nullptr) : json(rank - d.order.begin() + 1)},
    };
    // Estimates only for backends that could have served it.
    const bool serves = c.verdict != Verdict::kModelNotServed;
    entry["estimated_cost_usd"] = serves ? json(c.cost_usd) : json(nullptr);
    entry["predicted_latency_ms"] = serves ? json(c.latency_ms) : json(nullptr);
    if (c.rule >= 0) entry["rule"] = policy.rules[static_cast<size_t>(c.rule)].id;
    candidates.push_back(std::move(entry));
  }
  json out = {
      {"object", "route.explain"},
      {"policy_revision", policy.revision},
      {"tenant", facts.tenant},
      {"model", facts.model},
      {"data_class", policy.classes[static_cast<size_t>(d.data_class)].name},
      {"class_sources",
       {{"hint", class_name_or_null(policy, facts.hinted_class)},
        {"tenant", class_name_or_null(policy, d.tenant_class)},
        {"detector", class_name_or_null(policy, d.detected_class)}}},
      {"pii", pii_names(d.pii)},
      {"findings", std::move(findings)},
      {"prompt_tokens_estimate", facts.prompt_tokens},
      {"output_tokens_estimate", d.output_tokens},
      {"matched_rules", rule_ids(policy, d.matched_rules)},
      {"rule", std::string(d.rule_id(policy))},
      {"prefer", std::string(prefer_name(d.prefer))},
      {"latency_budget_ms", d.latency_budget_ms ? json(*d.latency_budget_ms) : json(nullptr)},
      {"priority", d.priority ? json(*d.priority) : json(nullptr)},
      {"budget_remaining_usd", d.remaining_usd ? json(*d.remaining_usd) : json(nullptr)},
      {"candidates", std::move(candidates)},
      {"chosen", d.order.empty() ? json(nullptr)
                                 : json(policy.backends[static_cast<size_t>(d.order.front())].name)},
  };
  if (d.error) out["denied"] = {{"message", d.error->message}, {"code", d.error->subcode}};
  return out;
}

void write_audit_members(JsonObjectWriter& line, const Policy& policy, const Decision& d) {
  std::vector<std::string_view> pii;
  for (int i = 0; i < kPiiTypeCount; ++i) {
    if (d.pii & (PiiMask{1} << i)) pii.push_back(pii::name(static_cast<PiiType>(i)));
  }
  std::vector<std::string_view> rules;
  for (int i : d.matched_rules) rules.push_back(policy.rules[static_cast<size_t>(i)].id);

  line.string("class", policy.classes[static_cast<size_t>(d.data_class)].name);
  append_string_array(line.member("pii"), pii);
  append_string_array(line.member("matched_rules"), rules);
  line.string("rule", d.rule_id(policy));
  std::string& candidates = line.member("candidates");
  candidates.push_back('[');
  bool first = true;
  for (const auto& c : d.candidates) {
    if (c.verdict == Verdict::kModelNotServed) continue;
    if (!first) candidates.push_back(',');
    first = false;
    JsonObjectWriter(candidates)
        .string("backend", policy.backends[static_cast<size_t>(c.backend)].name)
        .string("verdict", verdict_name(c.verdict));
  }
  candidates.push_back(']');
  line.string("policy_revision", policy.revision);
}

}  // namespace dsgw::policies
