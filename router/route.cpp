#include "router/route.h"

#include <algorithm>

#include "policies/request_facts.h"

namespace dsgw::router {

std::vector<policies::BackendState> snapshot(const RoutingTable& table, const std::string& model) {
  std::vector<policies::BackendState> states(table.backends.size());
  for (size_t i = 0; i < table.backends.size(); ++i) {
    const backends::Backend& b = *table.backends[i];
    policies::BackendState& s = states[i];
    const auto& models = b.info().models;
    s.serves_model = std::find(models.begin(), models.end(), model) != models.end();
    if (!s.serves_model) continue;
    const backends::Health health = b.health();
    s.usable = health.usable;
    s.unusable_reason = health.reason;
    const BackendStats& stats = *table.stats[i];
    s.circuit_open = stats.breaker.state() == CircuitBreaker::State::kOpen;
    s.latency = stats.latency.estimate(table.policy->backends[i].prior);
    const backends::LoadReport load = b.load();
    s.queued = load.queued;
    s.tokens_per_second = load.tokens_per_second;
  }
  return states;
}

Result<Route> route(const Request& request, const RoutingTable& table, UsageLedger* ledger, Hold hold,
                    std::chrono::system_clock::time_point now) {
  static const policies::pii::Detector kDetector;
  const policies::Policy& policy = *table.policy;
  auto facts = policies::extract_facts(request, policy, kDetector);
  if (!facts) return facts.error();
  const policies::Tenant* tenant = policies::tenant_of(policy, *facts);
  Route r{std::move(facts.value()), {}, snapshot(table, request.model), tenant ? tenant->name : request.tenant, {}};
  auto decide = [&](const TenantSpend& s) {
    const policies::SpendSoFar spend{s.today.usd, s.this_month.usd, s.today.tokens, s.this_month.tokens};
    r.decision = policies::decide(policy, r.facts, r.states, spend, now);
    const policies::Decision& d = r.decision;
    if (hold == Hold::kNothing || d.error || d.order.empty()) return Spend{};
    const policies::Candidate& chosen = d.candidates[static_cast<size_t>(d.order.front())];
    return Spend{chosen.cost_usd, r.facts.prompt_tokens + d.output_tokens};
  };
  if (ledger && tenant) {
    r.held = ledger->reserve(tenant->name, now, decide);
  } else {
    decide(TenantSpend{});
  }
  return r;
}

}  // namespace dsgw::router
