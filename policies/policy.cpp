#include "policies/policy.h"

#include <algorithm>
#include <limits>

namespace dsgw::policies {

int Policy::class_rank(std::string_view name) const {
  for (size_t i = 0; i < classes.size(); ++i) {
    if (classes[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

const Tenant* Policy::tenant(std::string_view name) const {
  for (const auto& t : tenants) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const Tenant* Policy::tenant_of_device(std::string_view device) const {
  for (const auto& t : tenants) {
    for (const auto& pattern : t.devices) {
      if (glob_match(pattern, device)) return &t;
    }
  }
  return nullptr;
}

int Policy::backend_index(std::string_view name) const {
  for (size_t i = 0; i < backends.size(); ++i) {
    if (backends[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

bool Policy::uses_pii() const {
  return std::any_of(pii_class.begin(), pii_class.end(), [](int c) { return c >= 0; }) ||
         std::any_of(rules.begin(), rules.end(), [](const Rule& r) { return r.when.pii != 0; });
}

Policy permissive_policy(const std::vector<BackendFacts>& backends) {
  Policy p;
  p.revision = "builtin";
  p.default_prefer = Prefer::kOrder;
  // A plain proxy: one attempt, no circuit breaking.
  p.dispatch.max_attempts = 1;
  p.dispatch.breaker_failures = std::numeric_limits<int>::max();
  p.pii_class.fill(-1);
  DataClass everywhere{"public", {}};
  BackendMask all = 0;
  for (size_t i = 0; i < backends.size(); ++i) {
    p.backends.push_back({backends[i].name, backends[i].jurisdiction, {}, {}});
    everywhere.jurisdictions.push_back(backends[i].jurisdiction);
    all |= BackendMask{1} << i;
  }
  p.classes.push_back(std::move(everywhere));
  p.class_backends.push_back(all);
  return p;
}

std::string_view prefer_name(Prefer p) {
  switch (p) {
    case Prefer::kCost: return "cost";
    case Prefer::kLatency: return "latency";
    case Prefer::kOrder: return "order";
  }
  return "latency";
}

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative wildcard match with one backtrack point: linear for one '*'.
  size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace dsgw::policies
