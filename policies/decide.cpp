#include "policies/decide.h"

#include <algorithm>
#include <limits>

namespace dsgw::policies {
namespace {

bool contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

int minute_of_day(std::chrono::system_clock::time_point now) {
  const auto since_midnight = now - std::chrono::floor<std::chrono::days>(now);
  return static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(since_midnight).count());
}

bool matches(const RuleMatch& m, const RequestFacts& f, int data_class, PiiMask pii, int minute) {
  if (!m.tenants.empty() && !contains(m.tenants, f.tenant)) return false;
  if (!m.models.empty() && !contains(m.models, f.model)) return false;
  if (m.classes != 0 && (m.classes & (ClassMask{1} << data_class)) == 0) return false;
  if (m.pii != 0 && (m.pii & pii) == 0) return false;
  if (m.prompt_tokens_min && f.prompt_tokens < *m.prompt_tokens_min) return false;
  if (m.prompt_tokens_max && f.prompt_tokens > *m.prompt_tokens_max) return false;
  if (m.latency_budget_ms_max && !(f.latency_budget_ms && *f.latency_budget_ms <= *m.latency_budget_ms_max)) return false;
  if (m.max_cost_usd_max && !(f.max_cost_usd && *f.max_cost_usd <= *m.max_cost_usd_max)) return false;
  if (m.time && !m.time->contains(minute)) return false;
  if (!m.devices.empty()) {
    if (f.device.empty()) return false;
    bool any = false;
    for (const auto& pattern : m.devices) any = any || glob_match(pattern, f.device);
    if (!any) return false;
  }
  return true;
}

// The rules' combined effect on one request.
struct RuleEffect {
  BackendMask allow = ~BackendMask{0};
  std::array<int16_t, kMaxBackends> allow_rule{};  // first rule whose allow excluded a backend (index+1)
  BackendMask deny = 0;
  std::array<int16_t, kMaxBackends> deny_rule{};
};

void classify(const Policy& policy, const RequestFacts& facts, const Tenant* tenant, Decision& d) {
  d.tenant_class = tenant ? tenant->data_class : policy.default_class;
  for (const auto& finding : facts.findings) {
    if (finding.confidence < policy.min_confidence) continue;
    const auto type = static_cast<size_t>(finding.type);
    d.pii |= PiiMask{1} << type;
    d.detected_class = std::max(d.detected_class, policy.pii_class[type]);
  }
  d.data_class = std::max({facts.hinted_class, d.tenant_class, d.detected_class, 0});
}

// Fills matched_rules and the rule-set fields of `d`; returns the masks.
void apply_rules(const Policy& policy, const RequestFacts& facts, std::chrono::system_clock::time_point now,
                 Decision& d, RuleEffect& effect, const std::vector<int>*& order) {
  const int minute = minute_of_day(now);
  for (size_t i = 0; i < policy.rules.size(); ++i) {
    const Rule& rule = policy.rules[i];
    if (!matches(rule.when, facts, d.data_class, d.pii, minute)) continue;
    const int index = static_cast<int>(i);
    d.matched_rules.push_back(index);
    const RuleAction& a = rule.then;
    for (size_t b = 0; b < policy.backends.size(); ++b) {
      const BackendMask bit = BackendMask{1} << b;
      if ((a.deny & bit) && !(effect.deny & bit)) effect.deny_rule[b] = static_cast<int16_t>(index + 1);
      if (a.allow && !(*a.allow & bit) && (effect.allow & bit)) effect.allow_rule[b] = static_cast<int16_t>(index + 1);
    }
    effect.deny |= a.deny;
    if (a.allow) effect.allow &= *a.allow;
    if (a.prefer && d.rule < 0) {
      d.rule = index;
      d.prefer = *a.prefer;
      if (*a.prefer == Prefer::kOrder) order = &a.order;
    }
    if (a.slo_ms && !d.latency_budget_ms) d.latency_budget_ms = a.slo_ms;
    if (a.priority && !d.priority) d.priority = a.priority;
    if (rule.final) break;
  }
  if (d.rule < 0 && !d.matched_rules.empty()) d.rule = d.matched_rules.front();
}

std::optional<double> remaining_usd(const Budget& b, const SpendSoFar& s) {
  std::optional<double> left;
  if (b.usd_per_day) left = *b.usd_per_day - s.usd_today;
  if (b.usd_per_month) left = std::min(left.value_or(std::numeric_limits<double>::infinity()), *b.usd_per_month - s.usd_month);
  return left;
}

std::optional<std::string> tokens_exhausted(const Budget& b, const SpendSoFar& s) {
  if (b.tokens_per_day && s.tokens_today >= *b.tokens_per_day) {
    return "its daily token budget (" + std::to_string(*b.tokens_per_day) + ") is spent";
  }
  if (b.tokens_per_month && s.tokens_month >= *b.tokens_per_month) {
    return "its monthly token budget (" + std::to_string(*b.tokens_per_month) + ") is spent";
  }
  return std::nullopt;
}

Error budget_error(const std::string& tenant, const std::string& why) {
  Error e = make_error(ErrorCode::kOverloaded, "tenant \"" + tenant + "\" is over budget: " + why, {}, "budget_exceeded");
  e.retry_after_seconds = 3600;
  return e;
}

// Why nothing may run the request, naming each backend's reason.
Error nothing_allowed(const Policy& policy, const Decision& d, std::span<const BackendState> backends) {
  std::string why;
  bool by_policy = false;  // vs. only broken backends
  for (const auto& c : d.candidates) {
    if (c.verdict == Verdict::kModelNotServed) continue;
    by_policy = by_policy || (c.verdict != Verdict::kUnusable && c.verdict != Verdict::kCircuitOpen);
    why += (why.empty() ? "" : "; ") + policy.backends[static_cast<size_t>(c.backend)].name + ": " +
           std::string(verdict_name(c.verdict));
    const std::string& reason = backends[static_cast<size_t>(c.backend)].unusable_reason;
    if (c.verdict == Verdict::kUnusable && !reason.empty()) why += " (" + reason + ")";
  }
  // no_allowed_backend when the policy ruled some out; plain
  // backend_unavailable when every one of them is just broken.
  Error e = make_error(ErrorCode::kUnavailable,
                       "no backend may run this request (data class \"" + policy.classes[static_cast<size_t>(d.data_class)].name +
                           "\"): " + why,
                       {}, by_policy ? "no_allowed_backend" : "");
  e.retry_after_seconds = 5;
  return e;
}

void order_kept(const std::vector<int>* order, Decision& d) {
  auto& kept = d.order;
  const auto& c = d.candidates;
  auto by_latency = [&](int a, int b) { return c[static_cast<size_t>(a)].latency_ms < c[static_cast<size_t>(b)].latency_ms; };
  auto by_cost = [&](int a, int b) {
    const auto& x = c[static_cast<size_t>(a)];
    const auto& y = c[static_cast<size_t>(b)];
    return x.cost_usd != y.cost_usd ? x.cost_usd < y.cost_usd : x.latency_ms < y.latency_ms;
  };
  switch (d.prefer) {
    case Prefer::kLatency: std::stable_sort(kept.begin(), kept.end(), by_latency); break;
    case Prefer::kCost: std::stable_sort(kept.begin(), kept.end(), by_cost); break;
    case Prefer::kOrder: {
      auto rank = [&](int b) {
        if (!order) return static_cast<long>(b);  // config order
        const auto it = std::find(order->begin(), order->end(), b);
        return it == order->end() ? static_cast<long>(order->size()) : static_cast<long>(it - order->begin());
      };
      std::stable_sort(kept.begin(), kept.end(), [&](int a, int b) {
        const long ra = rank(a), rb = rank(b);
        return ra != rb ? ra < rb : by_latency(a, b);
      });
      break;
    }
  }
  std::stable_partition(kept.begin(), kept.end(), [&](int b) { return !c[static_cast<size_t>(b)].over_latency_budget; });
}

}  // namespace

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kKept: return "kept";
    case Verdict::kModelNotServed: return "model_not_served";
    case Verdict::kSovereignty: return "sovereignty";
    case Verdict::kDeniedByRule: return "denied_by_rule";
    case Verdict::kNotAllowedByRule: return "not_allowed_by_rule";
    case Verdict::kUnusable: return "unusable";
    case Verdict::kCircuitOpen: return "circuit_open";
    case Verdict::kOverMaxCost: return "over_max_cost";
    case Verdict::kOverBudget: return "over_budget";
  }
  return "kept";
}

const Tenant* tenant_of(const Policy& policy, const RequestFacts& facts) {
  if (!facts.device.empty()) {
    if (const Tenant* t = policy.tenant_of_device(facts.device)) return t;
  }
  return policy.tenant(facts.tenant);
}

std::string_view Decision::rule_id(const Policy& policy) const {
  return rule >= 0 ? std::string_view(policy.rules[static_cast<size_t>(rule)].id) : std::string_view("default");
}

Decision decide(const Policy& policy, const RequestFacts& facts, std::span<const BackendState> backends,
                const SpendSoFar& spend, std::chrono::system_clock::time_point now) {
  Decision d;
  d.prefer = policy.default_prefer;
  d.latency_budget_ms = facts.latency_budget_ms;
  d.priority = facts.priority;
  d.output_tokens = facts.max_tokens > 0 ? facts.max_tokens : policy.expected_output_tokens;

  const Tenant* tenant = tenant_of(policy, facts);
  classify(policy, facts, tenant, d);
  if (tenant && !tenant->models.empty() && !contains(tenant->models, facts.model)) {
    d.error = make_error(ErrorCode::kNotFound,
                         "the model \"" + facts.model + "\" is not available to tenant \"" + tenant->name + "\"",
                         "model", "model_not_found");
  }
  if (tenant) {
    d.remaining_usd = remaining_usd(tenant->budget, spend);
    if (!d.priority) d.priority = tenant->priority;
  }

  RuleEffect effect;
  const std::vector<int>* order = nullptr;
  apply_rules(policy, facts, now, d, effect, order);

  const BackendMask sovereign = policy.class_backends[static_cast<size_t>(d.data_class)];
  bool any_served = false, only_budget = true;
  d.candidates.reserve(policy.backends.size());
  d.order.reserve(policy.backends.size());
  for (size_t b = 0; b < policy.backends.size() && b < backends.size(); ++b) {
    const BackendState& s = backends[b];
    const BackendMask bit = BackendMask{1} << b;
    Candidate c;
    c.backend = static_cast<int>(b);
    c.latency_ms = predicted_completion_ms(s.latency, s.queued, s.tokens_per_second, d.output_tokens);
    c.cost_usd = cost_usd(policy.backends[b].pricing, {facts.prompt_tokens, 0, d.output_tokens}, c.latency_ms / 1000, now);
    c.over_latency_budget = d.latency_budget_ms && c.latency_ms > static_cast<double>(*d.latency_budget_ms);
    if (!s.serves_model) {
      c.verdict = Verdict::kModelNotServed;
    } else if (!(sovereign & bit)) {
      c.verdict = Verdict::kSovereignty;
    } else if (effect.deny & bit) {
      c.verdict = Verdict::kDeniedByRule;
      c.rule = effect.deny_rule[b] - 1;
    } else if (!(effect.allow & bit)) {
      c.verdict = Verdict::kNotAllowedByRule;
      c.rule = effect.allow_rule[b] - 1;
    } else if (!s.usable) {
      c.verdict = Verdict::kUnusable;
    } else if (s.circuit_open) {
      c.verdict = Verdict::kCircuitOpen;
    } else if (facts.max_cost_usd && c.cost_usd > *facts.max_cost_usd) {
      c.verdict = Verdict::kOverMaxCost;
    } else if (d.remaining_usd && c.cost_usd > *d.remaining_usd) {
      c.verdict = Verdict::kOverBudget;
    }
    any_served = any_served || s.serves_model;
    if (c.verdict == Verdict::kKept) d.order.push_back(c.backend);
    if (s.serves_model && c.verdict != Verdict::kOverBudget) only_budget = false;
    d.candidates.push_back(c);
  }
  order_kept(order, d);

  if (d.error) {
    d.order.clear();
  } else if (!any_served) {
    d.error = make_error(ErrorCode::kNotFound,
                         "the model \"" + facts.model + "\" does not exist; GET /v1/models lists the models served",
                         "model", "model_not_found");
  } else if (const auto spent = tenant ? tokens_exhausted(tenant->budget, spend) : std::optional<std::string>()) {
    d.error = budget_error(tenant->name, *spent);
  } else if (d.remaining_usd && *d.remaining_usd <= 0) {
    d.error = budget_error(tenant->name, "its USD budget is spent");
  } else if (d.order.empty()) {
    d.error = only_budget ? budget_error(tenant->name, "every allowed backend would cost more than the $" +
                                                           std::to_string(*d.remaining_usd) + " left")
                          : nothing_allowed(policy, d, backends);
  }
  if (d.error) d.order.clear();
  return d;
}

}  // namespace dsgw::policies
