#include "policies/policy_loader.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "common/toml_reader.h"
#include "common/utc_time.h"

namespace dsgw::policies {
namespace {

// Reads one policy file; `diag` collects every problem.
class Loader {
 public:
  Loader(Policy& policy, const std::vector<BackendFacts>& backends, Diagnostics& diag)
      : policy_(policy), backends_(backends), diag_(diag) {}

  void load(const toml::table& root) {
    TableReader top(root, "", diag_);
    for (const auto& b : backends_) policy_.backends.push_back({b.name, b.jurisdiction, {}, {}});
    read_classes(top);
    if (const toml::table* d = top.table("defaults")) read_defaults(*d);
    if (const toml::table* p = top.table("pii")) read_pii(*p);
    const auto backends = top.tables("backend");
    for (size_t i = 0; i < backends.size(); ++i) read_backend(*backends[i], "backend[" + std::to_string(i) + "]");
    const auto tenants = top.tables("tenant");
    for (size_t i = 0; i < tenants.size(); ++i) read_tenant(*tenants[i], "tenant[" + std::to_string(i) + "]");
    const auto rules = top.tables("rule");
    for (size_t i = 0; i < rules.size(); ++i) read_rule(*rules[i], "rule[" + std::to_string(i) + "]");
    top.finish();
    std::stable_sort(policy_.rules.begin(), policy_.rules.end(),
                     [](const Rule& a, const Rule& b) { return a.priority > b.priority; });
  }

 private:
  void read_classes(TableReader& top) {
    const auto classes = top.tables("class");
    if (classes.empty()) top.missing("class");
    if (classes.size() > kMaxClasses) top.error("class", "at most " + std::to_string(kMaxClasses) + " classes");
    for (size_t i = 0; i < classes.size() && i < kMaxClasses; ++i) {
      TableReader t(*classes[i], "class[" + std::to_string(i) + "]", diag_);
      DataClass c;
      t.require("name", c.name);
      t.require("jurisdictions", c.jurisdictions);
      if (policy_.class_rank(c.name) >= 0) t.error("name", "duplicate class \"" + c.name + "\"");
      BackendMask allowed = 0;
      for (size_t b = 0; b < policy_.backends.size(); ++b) {
        if (std::find(c.jurisdictions.begin(), c.jurisdictions.end(), policy_.backends[b].jurisdiction) !=
            c.jurisdictions.end()) {
          allowed |= BackendMask{1} << b;
        }
      }
      t.finish();
      policy_.classes.push_back(std::move(c));
      policy_.class_backends.push_back(allowed);
    }
    policy_.pii_class.fill(-1);
  }

  // A class name at `key` of `t`, as a rank; -1 (with an error) if unknown.
  int class_at(TableReader& t, const char* key, const std::string& name) {
    const int rank = policy_.class_rank(name);
    if (rank < 0) t.error(key, "unknown data class \"" + name + "\"; the [[class]] tables define " + class_list());
    return rank;
  }

  std::string class_list() const {
    std::string out;
    for (const auto& c : policy_.classes) out += (out.empty() ? "" : ", ") + ("\"" + c.name + "\"");
    return out.empty() ? "none" : out;
  }

  void read_defaults(const toml::table& table) {
    TableReader t(table, "defaults", diag_);
    std::string name;
    if (t.get("data_class", name)) policy_.default_class = std::max(0, class_at(t, "data_class", name));
    if (t.get("prefer", name)) read_prefer(t, "prefer", name, policy_.default_prefer);
    t.get("expected_output_tokens", policy_.expected_output_tokens, 1, 1'000'000);
    t.get("min_confidence", policy_.min_confidence);
    Dispatch& d = policy_.dispatch;
    t.get("max_attempts", d.max_attempts, 1, 10);
    t.get("breaker_failures", d.breaker_failures, 1, 1000);
    t.get("breaker_cooldown_ms", d.breaker_cooldown_ms, 1, 3'600'000);
    t.get("retry_base_ms", d.retry_base_ms, 0, 60'000);
    t.get("retry_cap_ms", d.retry_cap_ms, 0, 600'000);
    t.get("max_retry_after_ms", d.max_retry_after_ms, 0, 600'000);
    t.finish();
  }

  void read_prefer(TableReader& t, const char* key, const std::string& name, Prefer& out) {
    if (name == "cost") {
      out = Prefer::kCost;
    } else if (name == "latency") {
      out = Prefer::kLatency;
    } else if (name == "order") {
      out = Prefer::kOrder;
    } else {
      t.error(key, "expected \"cost\", \"latency\" or \"order\", got \"" + name + "\"");
    }
  }

  void read_pii(const toml::table& table) {
    TableReader t(table, "pii", diag_);
    for (const auto& [key, value] : table) {
      const std::string type(key.str());
      std::string name;
      if (!t.get(type.c_str(), name)) continue;
      const auto found = pii::parse_pii_type(type);
      if (!found) {
        t.error(type.c_str(), "unknown PII type; known: " + pii_type_list());
        continue;
      }
      if (name == "ignore") continue;
      policy_.pii_class[static_cast<size_t>(*found)] = class_at(t, type.c_str(), name);
    }
  }

  static std::string pii_type_list() {
    std::string out;
    for (int i = 0; i < kPiiTypeCount; ++i) out += (i ? ", " : "") + std::string(pii::name(static_cast<PiiType>(i)));
    return out;
  }

  // "HH:MM" as minutes of the day.
  std::optional<int> minute_of_day(TableReader& t, const char* key, const std::string& text) {
    int h = -1, m = -1;
    char tail = 0;
    if (text.size() != 5 || std::sscanf(text.c_str(), "%2d:%2d%c", &h, &m, &tail) != 2 || h < 0 || h > 24 ||
        m < 0 || m > 59 || (h == 24 && m != 0)) {
      t.error(key, "expected a UTC time \"HH:MM\", got \"" + text + "\"");
      return std::nullopt;
    }
    return h * 60 + m;
  }

  std::optional<DayWindow> read_window(TableReader& t, const char* from_key, const char* to_key) {
    std::string from, to;
    const bool has_from = t.get(from_key, from), has_to = t.get(to_key, to);
    if (!has_from && !has_to) return std::nullopt;
    if (has_from != has_to) {
      t.error(has_from ? to_key : from_key, "a window needs both " + std::string(from_key) + " and " + to_key);
      return std::nullopt;
    }
    auto f = minute_of_day(t, from_key, from), e = minute_of_day(t, to_key, to);
    if (!f || !e) return std::nullopt;
    if (*f == *e) t.error(to_key, "an empty window (from == to)");
    return DayWindow{*f, *e};
  }

  std::vector<TimeOfUse> read_time_of_use(TableReader& parent) {
    std::vector<TimeOfUse> out;
    const auto windows = parent.tables("time_of_use");
    for (size_t i = 0; i < windows.size(); ++i) {
      TableReader t(*windows[i], parent.path_of("time_of_use") + "[" + std::to_string(i) + "]", diag_);
      auto w = read_window(t, "from", "to");
      if (!w && !t.has("from") && !t.has("to")) t.missing("from");
      double factor = 1;
      if (t.require("factor", factor) && (factor < 0 || factor > 10)) t.error("factor", "expected 0..10");
      t.finish();
      if (w) out.push_back({w->from_minute, w->to_minute, factor});
    }
    return out;
  }

  void read_non_negative(TableReader& t, const char* key, double& out, bool required = false) {
    if ((required ? t.require(key, out) : t.get(key, out)) && out < 0) t.error(key, "must not be negative");
  }

  void read_backend(const toml::table& table, const std::string& path) {
    TableReader t(table, path, diag_);
    std::string name;
    if (!t.require("name", name)) return t.finish();
    const int index = policy_.backend_index(name);
    if (index < 0) {
      t.error("name", "no [[backend]] named \"" + name + "\" in the daemon config");
      return;
    }
    if (!described_.insert(name).second) t.error("name", "backend \"" + name + "\" is described twice");
    BackendProfile& profile = policy_.backends[static_cast<size_t>(index)];
    read_non_negative(t, "ttft_ms", profile.prior.ttft_ms);
    read_non_negative(t, "tpot_ms", profile.prior.tpot_ms);
    const auto prices = t.tables("tokens_price");
    for (size_t i = 0; i < prices.size(); ++i) {
      TableReader p(*prices[i], t.path_of("tokens_price") + "[" + std::to_string(i) + "]", diag_);
      TokenPrice price;
      std::string from;
      if (p.require("from", from)) {
        if (auto day = parse_utc_date(from)) {
          price.effective_from = *day;
        } else {
          p.error("from", "expected a date \"YYYY-MM-DD\", got \"" + from + "\"");
        }
      }
      read_non_negative(p, "input_cache_hit", price.input_cache_hit);
      read_non_negative(p, "input_cache_miss", price.input_cache_miss, true);
      read_non_negative(p, "output", price.output, true);
      if (!p.has("input_cache_hit")) price.input_cache_hit = price.input_cache_miss;
      price.time_of_use = read_time_of_use(p);
      p.finish();
      profile.pricing.token_prices.push_back(std::move(price));
    }
    std::stable_sort(profile.pricing.token_prices.begin(), profile.pricing.token_prices.end(),
                     [](const TokenPrice& a, const TokenPrice& b) { return a.effective_from < b.effective_from; });
    if (const toml::table* g = t.table("gpu_hourly")) {
      TableReader p(*g, t.path_of("gpu_hourly"), diag_);
      GpuHourly gpu;
      read_non_negative(p, "usd_per_hour", gpu.usd_per_hour, true);
      if (p.require("tokens_per_second", gpu.tokens_per_second) && gpu.tokens_per_second <= 0) {
        p.error("tokens_per_second", "must be positive");
      }
      if (p.get("prepaid_discount", gpu.prepaid_discount) && (gpu.prepaid_discount < 0 || gpu.prepaid_discount >= 1)) {
        p.error("prepaid_discount", "expected a fraction in [0, 1), e.g. 0.3 for 30% off");
      }
      gpu.time_of_use = read_time_of_use(p);
      p.finish();
      profile.pricing.gpu_hourly = std::move(gpu);
    }
    if (const toml::table* e = t.table("energy")) {
      TableReader p(*e, t.path_of("energy"), diag_);
      Energy energy;
      read_non_negative(p, "watts", energy.watts, true);
      read_non_negative(p, "usd_per_kwh", energy.usd_per_kwh, true);
      read_non_negative(p, "amortisation_usd_per_hour", energy.amortisation_usd_per_hour);
      p.finish();
      profile.pricing.energy = energy;
    }
    t.finish();
  }

  void read_tenant(const toml::table& table, const std::string& path) {
    TableReader t(table, path, diag_);
    Tenant tenant;
    tenant.data_class = policy_.default_class;
    t.require("name", tenant.name);
    if (!tenant.name.empty() && policy_.tenant(tenant.name)) t.error("name", "duplicate tenant \"" + tenant.name + "\"");
    std::string name;
    if (t.get("data_class", name)) tenant.data_class = std::max(0, class_at(t, "data_class", name));
    t.get("devices", tenant.devices);
    t.get("models", tenant.models);
    int priority = 0;
    if (t.get("priority", priority, 0, 9)) tenant.priority = priority;
    double usd = 0;
    int64_t tokens = 0;
    if (t.get("usd_per_day", usd)) tenant.budget.usd_per_day = usd;
    if (t.get("usd_per_month", usd)) tenant.budget.usd_per_month = usd;
    if (t.get("tokens_per_day", tokens, 0)) tenant.budget.tokens_per_day = tokens;
    if (t.get("tokens_per_month", tokens, 0)) tenant.budget.tokens_per_month = tokens;
    t.finish();
    policy_.tenants.push_back(std::move(tenant));
  }

  // Backend names at `key` as a mask; unknown names are errors.
  BackendMask backend_mask(TableReader& t, const char* key, const std::vector<std::string>& names,
                           std::vector<int>* order = nullptr) {
    BackendMask mask = 0;
    for (const auto& n : names) {
      const int i = policy_.backend_index(n);
      if (i < 0) {
        t.error(key, "no [[backend]] named \"" + n + "\" in the daemon config");
        continue;
      }
      mask |= BackendMask{1} << i;
      if (order) order->push_back(i);
    }
    return mask;
  }

  void read_rule(const toml::table& table, const std::string& path) {
    TableReader t(table, path, diag_);
    Rule rule;
    t.require("id", rule.id);
    for (const auto& r : policy_.rules) {
      if (r.id == rule.id) t.error("id", "duplicate rule id \"" + rule.id + "\"");
    }
    t.get("priority", rule.priority, -1'000'000, 1'000'000);
    t.get("final", rule.final);
    if (const toml::table* w = t.table("when")) read_when(*w, t.path_of("when"), rule.when);
    if (const toml::table* a = t.table("then")) {
      read_then(*a, t.path_of("then"), rule.then);
    } else {
      t.missing("then");
    }
    t.finish();
    policy_.rules.push_back(std::move(rule));
  }

  void read_when(const toml::table& table, const std::string& path, RuleMatch& m) {
    TableReader t(table, path, diag_);
    t.get("tenant", m.tenants);
    t.get("device", m.devices);
    t.get("model", m.models);
    std::vector<std::string> names;
    if (t.get("data_class", names)) {
      for (const auto& n : names) {
        if (const int rank = class_at(t, "data_class", n); rank >= 0) m.classes |= ClassMask{1} << rank;
      }
    }
    names.clear();
    if (t.get("pii", names)) {
      for (const auto& n : names) {
        if (const auto type = pii::parse_pii_type(n)) {
          m.pii |= PiiMask{1} << static_cast<int>(*type);
        } else {
          t.error("pii", "unknown PII type \"" + n + "\"; known: " + pii_type_list());
        }
      }
    }
    int64_t v = 0;
    if (t.get("prompt_tokens_min", v, 0)) m.prompt_tokens_min = v;
    if (t.get("prompt_tokens_max", v, 0)) m.prompt_tokens_max = v;
    if (t.get("latency_budget_ms_max", v, 0)) m.latency_budget_ms_max = v;
    double usd = 0;
    if (t.get("max_cost_usd_max", usd)) m.max_cost_usd_max = usd;
    m.time = read_window(t, "time_from", "time_to");
    t.finish();
  }

  void read_then(const toml::table& table, const std::string& path, RuleAction& a) {
    TableReader t(table, path, diag_);
    std::vector<std::string> names;
    if (t.get("allow", names)) a.allow = backend_mask(t, "allow", names);
    names.clear();
    if (t.get("deny", names)) a.deny = backend_mask(t, "deny", names);
    std::string prefer;
    if (t.get("prefer", prefer)) {
      Prefer p = Prefer::kLatency;
      read_prefer(t, "prefer", prefer, p);
      a.prefer = p;
    }
    names.clear();
    if (t.get("order", names)) {
      backend_mask(t, "order", names, &a.order);
      if (!a.prefer) a.prefer = Prefer::kOrder;
    }
    if (a.prefer == Prefer::kOrder && names.empty()) t.error("prefer", "prefer = \"order\" needs an order list");
    int64_t slo = 0;
    if (t.get("slo_ms", slo, 1)) a.slo_ms = slo;
    int priority = 0;
    if (t.get("priority", priority, 0, 9)) a.priority = priority;
    t.finish();
  }

  Policy& policy_;
  const std::vector<BackendFacts>& backends_;
  Diagnostics& diag_;
  std::set<std::string> described_;  // backends with a [[backend]] table so far
};

}  // namespace

Result<Policy> load_policy(const std::string& path, const std::vector<BackendFacts>& backends) {
  Diagnostics diag(path);
  if (backends.size() > static_cast<size_t>(kMaxBackends)) {
    return make_error(ErrorCode::kInvalidRequest, "a policy covers at most " + std::to_string(kMaxBackends) + " backends");
  }
  auto file = read_toml_file(diag);
  if (!file) return make_error(ErrorCode::kInvalidRequest, diag.joined());
  Policy policy;
  policy.path = path;
  policy.revision = file->revision;
  Loader(policy, backends, diag).load(file->root);
  if (!diag.empty()) return make_error(ErrorCode::kInvalidRequest, diag.joined());
  return policy;
}

}  // namespace dsgw::policies
