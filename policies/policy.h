// The routing policy (config/policy.toml) as typed, validated data. A Policy
// that exists is a valid one: every name it uses resolves, so evaluation
// (policies/decide.h) never fails on it. Immutable once loaded; reloads build
// a new one.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policies/cost_model.h"
#include "policies/latency_model.h"
#include "policies/pii/pii_type.h"

namespace dsgw::policies {

using pii::kPiiTypeCount;
using pii::PiiType;

// Data classes are ranked by their position in the file: a higher rank is
// more sensitive. Class masks are bitsets over ranks.
inline constexpr int kMaxClasses = 16;
using ClassMask = uint32_t;
using BackendMask = uint64_t;  // bit i = backend i of the routing table
inline constexpr int kMaxBackends = 64;
using PiiMask = uint32_t;      // bit i = PiiType i

struct DataClass {
  std::string name;
  std::vector<std::string> jurisdictions;  // where its data may be processed
};

// A minute-of-day window in UTC, [from, to); wraps midnight when to <= from.
struct DayWindow {
  int from_minute = 0;
  int to_minute = 0;
  bool contains(int minute_of_day) const {
    return from_minute < to_minute ? minute_of_day >= from_minute && minute_of_day < to_minute
                                   : minute_of_day >= from_minute || minute_of_day < to_minute;
  }
};

struct Budget {
  std::optional<double> usd_per_day;
  std::optional<double> usd_per_month;
  std::optional<int64_t> tokens_per_day;
  std::optional<int64_t> tokens_per_month;
};

struct Tenant {
  std::string name;                  // the tenant of [[api_key]] in dsgw.toml, or "anonymous"
  std::vector<std::string> devices;  // MQTT device ids; '*' matches any run of characters
  int data_class = 0;                // default class rank
  Budget budget;
  std::vector<std::string> models;   // models it may ask for; empty = all
  std::optional<int> priority;       // 0 runs first .. 9 last
};

enum class Prefer { kCost, kLatency, kOrder };

struct RuleMatch {
  std::vector<std::string> tenants;  // empty = any
  std::vector<std::string> devices;  // globs; empty = any
  std::vector<std::string> models;   // empty = any
  ClassMask classes = 0;             // 0 = any
  PiiMask pii = 0;                   // any of these types found; 0 = don't care
  std::optional<int64_t> prompt_tokens_min;
  std::optional<int64_t> prompt_tokens_max;
  std::optional<int64_t> latency_budget_ms_max;  // the request has a budget at most this
  std::optional<double> max_cost_usd_max;        // the request caps cost at most this
  std::optional<DayWindow> time;                 // UTC
};

struct RuleAction {
  std::optional<BackendMask> allow;  // only these may run it
  BackendMask deny = 0;              // these may not
  std::optional<Prefer> prefer;
  std::vector<int> order;            // backend indices, for Prefer::kOrder
  std::optional<int64_t> slo_ms;     // latency budget when the request has none
  std::optional<int> priority;
};

struct Rule {
  std::string id;
  int priority = 0;  // higher is evaluated first
  bool final = false;  // no lower-priority rule applies after this one
  RuleMatch when;
  RuleAction then;
};

// What the policy knows about a backend of the routing table (same index).
struct BackendProfile {
  std::string name;
  std::string jurisdiction;
  Pricing pricing;
  LatencyPrior prior;
};

struct Dispatch {
  int max_attempts = 3;  // tries per request over all candidates
  int breaker_failures = 5;
  int64_t breaker_cooldown_ms = 10'000;
  int64_t retry_base_ms = 100;
  int64_t retry_cap_ms = 2'000;
  int64_t max_retry_after_ms = 5'000;
};

struct Policy {
  std::string path;
  std::string revision;  // first 12 hex digits of the file's SHA-256
  std::vector<DataClass> classes;
  // Per class rank: the backends whose jurisdiction it may go to.
  std::vector<BackendMask> class_backends;
  std::array<int, kPiiTypeCount> pii_class{};  // rank per PII type; -1: ignored
  double min_confidence = 0.5;
  int default_class = 0;
  Prefer default_prefer = Prefer::kLatency;
  int64_t expected_output_tokens = 512;
  Dispatch dispatch;
  std::vector<Tenant> tenants;
  std::vector<Rule> rules;  // sorted: priority descending, then file order
  std::vector<BackendProfile> backends;

  int class_rank(std::string_view name) const;  // -1 if unknown
  const Tenant* tenant(std::string_view name) const;
  const Tenant* tenant_of_device(std::string_view device) const;
  int backend_index(std::string_view name) const;  // -1 if unknown
  // Whether any PII finding can matter (a [pii] class or a rule on PII
  // types); if not, requests are not scanned.
  bool uses_pii() const;
};

// What the policy needs to know of a configured backend.
struct BackendFacts {
  std::string name;
  std::string jurisdiction;
  std::vector<std::string> models;  // the names clients may ask it for
};

// The policy when dsgw.toml names none: one class, "public", that may go
// anywhere; no rules; the first usable backend in config order, one attempt,
// no circuit breakers (a plain proxy).
Policy permissive_policy(const std::vector<BackendFacts>& backends);

std::string_view prefer_name(Prefer p);
// '*' matches any run of characters (including none).
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace dsgw::policies
