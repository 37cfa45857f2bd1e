// The decide stage: a pure function from (policy, request facts, a snapshot
// of the backends' state, the tenant's spending, the clock) to a decision
// that explains itself. No I/O, no locks: easy to test, explain and dry-run.
//
// Evaluation:
//  1. class = max(hint, tenant default, detected PII mapped by [pii]).
//  2. rules whose `when` matches, by priority: `deny`s add up, `allow`s
//     intersect, the first rule to set prefer/order/slo/priority wins; a
//     `final` rule stops the walk.
//  3. every backend is kept or eliminated, with the first reason that applies:
//     model not served, sovereignty (class jurisdictions; overrides every
//     rule and hint), rule deny/allow, not usable, circuit open, over the
//     request's max cost, over the tenant's remaining budget.
//  4. the kept ones are ordered by preference; those predicted to miss the
//     latency budget go last.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "policies/latency_model.h"
#include "policies/pii/detector.h"
#include "policies/policy.h"

namespace dsgw::policies {

// What the policy looks at in a request (policies/request_facts.h builds it).
struct RequestFacts {
  std::string tenant;
  std::string device;  // MQTT device id; empty for HTTP
  std::string model;
  int hinted_class = -1;  // rank from X-Dsgw-Data-Class / metadata; -1: none
  std::vector<pii::Finding> findings;
  int64_t prompt_tokens = 0;  // estimate
  int64_t max_tokens = 0;     // 0: the policy's expected_output_tokens
  std::optional<int64_t> latency_budget_ms;
  std::optional<double> max_cost_usd;
  std::optional<int> priority;
};

// One backend's state at decision time, same index as Policy::backends.
struct BackendState {
  bool serves_model = false;
  bool usable = true;
  std::string unusable_reason;
  bool circuit_open = false;
  LatencyEstimate latency{1000, 50, 0};
  int queued = 0;
  double tokens_per_second = 0;
};

struct SpendSoFar {
  double usd_today = 0, usd_month = 0;
  int64_t tokens_today = 0, tokens_month = 0;
};

enum class Verdict {
  kKept,
  kModelNotServed,
  kSovereignty,
  kDeniedByRule,
  kNotAllowedByRule,
  kUnusable,
  kCircuitOpen,
  kOverMaxCost,
  kOverBudget,
};
std::string_view verdict_name(Verdict v);

struct Candidate {
  int backend = 0;
  Verdict verdict = Verdict::kKept;
  int rule = -1;  // index into Policy::rules for the rule verdicts
  double cost_usd = 0;
  double latency_ms = 0;
  bool over_latency_budget = false;
};

struct Decision {
  int data_class = 0;
  int tenant_class = 0;
  int detected_class = -1;  // -1: nothing found that maps to a class
  PiiMask pii = 0;          // types found with enough confidence
  std::vector<int> matched_rules;  // indices into Policy::rules, in evaluation order
  int rule = -1;                   // the rule that set the preference (X-Dsgw-Rule); -1: defaults
  Prefer prefer = Prefer::kLatency;
  std::optional<int64_t> latency_budget_ms;
  std::optional<int> priority;
  std::optional<double> remaining_usd;  // tenant budget left, if it has one
  int64_t output_tokens = 0;            // what estimates assumed
  std::vector<Candidate> candidates;    // every backend, in table order
  std::vector<int> order;               // kept backends, in dispatch order
  std::optional<Error> error;           // why nothing may run it

  // X-Dsgw-Rule: the deciding rule's id, or "default".
  std::string_view rule_id(const Policy& policy) const;
};

// The policy's tenant for a request: the one whose `devices` match its MQTT
// device, else the one named like its authenticated tenant; null if none.
const Tenant* tenant_of(const Policy& policy, const RequestFacts& facts);

Decision decide(const Policy& policy, const RequestFacts& facts, std::span<const BackendState> backends,
                const SpendSoFar& spend, std::chrono::system_clock::time_point now);

}  // namespace dsgw::policies
