// Cost of the routing decision (policies/decide.h) on one core: a realistic
// policy of 50 rules (tenants, models, classes, PII types, prompt-size
// ranges, UTC time windows, device globs, latency and cost caps; a few match
// each request), 20 tenants and 6 backends in mixed jurisdictions (token
// prices with dated changes and time-of-use factors, a rented GPU billed by
// the hour, the local machine's energy), loaded through load_policy from a
// temp file. decide() runs over a rotating set of pre-built RequestFacts,
// backend states, spending and clock readings; each call is timed with its
// own steady_clock pair, so every figure includes one clock pair, which is
// measured in the same run as the yardstick (with a 1 KiB string copy for
// scale). The mean without per-call clocks (one clock pair per batch) is
// printed beside it. extract_facts() (the PII detector over every message)
// is timed the same way on a typical 2 KB chat prompt.
//
// usage: bench_policy_decision [--calls 1000000]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "policies/decide.h"
#include "policies/policy_loader.h"
#include "policies/request_facts.h"

namespace {

using Clock = std::chrono::steady_clock;
using dsgw::policies::BackendFacts;
using dsgw::policies::BackendState;
using dsgw::policies::Decision;
using dsgw::policies::PiiType;
using dsgw::policies::Policy;
using dsgw::policies::RequestFacts;
using dsgw::policies::SpendSoFar;
using dsgw::policies::pii::Finding;

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {  // splitmix64
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  int below(int n) { return static_cast<int>(next() % static_cast<uint64_t>(n)); }
  bool chance(int percent) { return below(100) < percent; }
  double uniform() { return static_cast<double>(next() >> 11) / 9007199254740992.0; }

 private:
  uint64_t s_;
};

// The daemon config's backends, in config order.
const std::vector<BackendFacts> kBackends{
    {"local", "device", {"deepseek-r1", "r1-distill"}},
    {"jetson", "lan", {"deepseek-r1", "r1-distill", "qwen-32b"}},
    {"deepseek", "cn", {"deepseek-r1"}},
    {"deepseek-chat", "cn", {"deepseek-chat"}},
    {"cloud-eu", "eu", {"deepseek-r1", "r1-distill", "qwen-32b"}},
    {"us-api", "us", {"deepseek-r1", "deepseek-chat"}},
};
const char* const kModels[] = {"deepseek-r1", "deepseek-chat", "qwen-32b", "r1-distill"};
const char* const kClasses[] = {"public", "internal", "confidential", "restricted"};
const char* const kPii[] = {"credit_card", "iban", "email", "phone", "cn_mobile", "api_key", "cn_resident_id"};
constexpr int kTenants = 20;
constexpr int kRules = 50;

std::string quoted_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const auto& s : items) out.append(out.size() > 1 ? ", \"" : "\"").append(s).append("\"");
  return out + "]";
}

std::string hhmm(int minute) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d:%02d", minute / 60, minute % 60);
  return buf;
}

std::string tenant_name(int i) { return "tenant-" + std::to_string(i); }

// Up to `n` distinct backend names; the local ones first when `local_first`.
std::vector<std::string> some_backends(Rng& rng, int n, bool with_local) {
  std::vector<std::string> out;
  if (with_local) out = {"local", "jetson"};
  while (static_cast<int>(out.size()) < n) {
    const std::string& name = kBackends[static_cast<size_t>(rng.below(6))].name;
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

std::string policy_text() {
  Rng rng(42);
  std::string t = R"(
[defaults]
data_class = "internal"
prefer = "latency"
expected_output_tokens = 512
min_confidence = 0.5

[[class]]
name = "public"
jurisdictions = ["device", "site", "lan", "cn", "eu", "us"]
[[class]]
name = "internal"
jurisdictions = ["device", "site", "lan", "cn", "eu", "us"]
[[class]]
name = "confidential"
jurisdictions = ["device", "site", "lan", "eu"]
[[class]]
name = "restricted"
jurisdictions = ["device", "site"]

[pii]
credit_card = "restricted"
cn_resident_id = "restricted"
iban = "restricted"
private_key = "restricted"
api_key = "restricted"
jwt = "restricted"
cn_mobile = "confidential"
phone = "confidential"
email = "confidential"
ipv4 = "ignore"
ipv6 = "ignore"

[[backend]]
name = "local"
ttft_ms = 800
tpot_ms = 60
[backend.energy]
watts = 350
usd_per_kwh = 0.12
amortisation_usd_per_hour = 0.10

[[backend]]
name = "jetson"
ttft_ms = 1200
tpot_ms = 90

[[backend]]
name = "deepseek"
ttft_ms = 2300
tpot_ms = 40
[[backend.tokens_price]]
from = "2025-01-20"
input_cache_hit = 0.14
input_cache_miss = 0.55
output = 2.19
[[backend.tokens_price.time_of_use]]
from = "16:30"
to = "00:30"
factor = 0.25
[[backend.tokens_price]]
from = "2025-09-05"
input_cache_hit = 0.028
input_cache_miss = 0.28
output = 0.42

[[backend]]
name = "deepseek-chat"
ttft_ms = 1500
tpot_ms = 30
[[backend.tokens_price]]
from = "2025-01-20"
input_cache_hit = 0.07
input_cache_miss = 0.27
output = 1.10
[[backend.tokens_price.time_of_use]]
from = "16:30"
to = "00:30"
factor = 0.5

[[backend]]
name = "cloud-eu"
ttft_ms = 600
tpot_ms = 25
[backend.gpu_hourly]
usd_per_hour = 2.50
tokens_per_second = 1500
prepaid_discount = 0.3
[[backend.gpu_hourly.time_of_use]]
from = "22:00"
to = "06:00"
factor = 0.4

[[backend]]
name = "us-api"
ttft_ms = 900
tpot_ms = 20
[[backend.tokens_price]]
from = "2025-01-01"
input_cache_hit = 1.25
input_cache_miss = 2.50
output = 10.0
[[backend.tokens_price]]
from = "2025-08-01"
input_cache_hit = 0.625
input_cache_miss = 1.25
output = 10.0
[[backend.tokens_price.time_of_use]]
from = "01:00"
to = "07:00"
factor = 0.5
)";
  for (int i = 0; i < kTenants; ++i) {
    t += "\n[[tenant]]\nname = \"" + tenant_name(i) + "\"\n";
    t += "data_class = \"" + std::string(kClasses[i % 3]) + "\"\n";
    if (i % 2 == 0) t += "usd_per_day = " + std::to_string(5 + i) + ".0\nusd_per_month = " + std::to_string(100 + 10 * i) + ".0\n";
    if (i % 5 == 0) t += "tokens_per_day = 2000000\n";
    if (i % 4 == 1) t += "devices = [\"plant-" + std::to_string(i) + "-*\"]\n";
    if (i % 7 == 3) t += "models = [\"deepseek-r1\", \"r1-distill\"]\n";
    if (i % 3 == 0) t += "priority = " + std::to_string(i % 10) + "\n";
  }
  t += "\n[[tenant]]\nname = \"anonymous\"\nusd_per_day = 5.0\n";

  for (int r = 0; r < kRules; ++r) {
    t += "\n[[rule]]\nid = \"rule-" + std::to_string(r) + "\"\n";
    t += "priority = " + std::to_string(rng.below(200)) + "\n";
    if (r % 17 == 16) t += "final = true\n";
    // One to three conditions; two rules apply to everything (a catch-all default and a guard).
    std::string when;
    const int conditions = r < 2 ? 0 : 1 + rng.below(3);
    std::vector<int> used;
    for (int c = 0; c < conditions; ++c) {
      int kind = rng.below(9);
      if (std::find(used.begin(), used.end(), kind) != used.end()) continue;
      used.push_back(kind);
      switch (kind) {
        case 0: {
          std::vector<std::string> names;
          for (int k = 0; k < 1 + rng.below(4); ++k) names.push_back(tenant_name(rng.below(kTenants)));
          when += "tenant = " + quoted_list(names) + "\n";
          break;
        }
        case 1: when += "model = " + quoted_list({kModels[rng.below(4)]}) + "\n"; break;
        case 2: when += "data_class = " + quoted_list({kClasses[1 + rng.below(3)]}) + "\n"; break;
        case 3: when += "pii = " + quoted_list({kPii[rng.below(7)], kPii[rng.below(7)]}) + "\n"; break;
        case 4: {
          const int lo = 50 * rng.below(40);
          when += "prompt_tokens_min = " + std::to_string(lo) + "\nprompt_tokens_max = " +
                  std::to_string(lo + 500 + 100 * rng.below(80)) + "\n";
          break;
        }
        case 5: {
          const int from = 30 * rng.below(48);
          when += "time_from = \"" + hhmm(from) + "\"\ntime_to = \"" + hhmm((from + 120 + 30 * rng.below(24)) % 1440) + "\"\n";
          break;
        }
        case 6: when += "device = [\"plant-" + std::to_string(rng.below(kTenants)) + "-*\", \"line-*-cam\"]\n"; break;
        case 7: when += "latency_budget_ms_max = " + std::to_string(2000 + 1000 * rng.below(30)) + "\n"; break;
        case 8: when += "max_cost_usd_max = 0.0" + std::to_string(1 + rng.below(9)) + "\n"; break;
      }
    }
    if (r % 17 == 16) when = "data_class = [\"restricted\"]\n";  // final rules guard the most sensitive data
    if (!when.empty()) t += "[rule.when]\n" + when;
    t += "[rule.then]\n";
    switch (r < 2 ? 4 + r : rng.below(6)) {
      case 0: t += "deny = " + quoted_list(some_backends(rng, 1, false)) + "\n"; break;
      case 1: t += "allow = " + quoted_list(some_backends(rng, 4, true)) + "\n"; break;
      case 2: t += "prefer = \"cost\"\n"; break;
      case 3: t += "order = " + quoted_list(some_backends(rng, 3, false)) + "\nslo_ms = 60000\n"; break;
      case 4: t += "prefer = \"latency\"\nslo_ms = " + std::to_string(30000 + 1000 * rng.below(60)) + "\n"; break;
      case 5: t += "deny = [\"us-api\"]\npriority = " + std::to_string(rng.below(10)) + "\n"; break;
    }
  }
  return t;
}

// One request as the decide stage sees it: facts, backend states (same index
// as the policy's backends), the tenant's spending and the clock.
struct Scenario {
  RequestFacts facts;
  std::vector<BackendState> states;
  SpendSoFar spend;
  std::chrono::system_clock::time_point now;
};

std::vector<Scenario> scenarios(const Policy& policy, int count) {
  Rng rng(7);
  const auto day = std::chrono::sys_days(std::chrono::year(2025) / std::chrono::October / 1);
  std::vector<Scenario> out;
  for (int i = 0; i < count; ++i) {
    Scenario s;
    RequestFacts& f = s.facts;
    const int who = rng.below(kTenants + 3);
    f.tenant = who < kTenants ? tenant_name(who) : who == kTenants ? "anonymous" : "nobody";
    if (rng.chance(25)) f.device = rng.chance(50) ? "plant-" + std::to_string(rng.below(kTenants)) + "-a7" : "line-4-cam";
    f.model = kModels[rng.chance(60) ? 0 : rng.below(4)];
    if (rng.chance(10)) f.hinted_class = rng.below(4);
    if (rng.chance(20)) {
      static const PiiType kTypes[] = {PiiType::kEmail, PiiType::kCreditCard, PiiType::kPhone, PiiType::kIpv4,
                                       PiiType::kApiKey};
      for (int k = 0; k < 1 + rng.below(3); ++k) {
        const PiiType type = kTypes[rng.below(5)];
        f.findings.push_back(Finding{type, static_cast<size_t>(rng.below(2000)), 16,
                                     dsgw::policies::pii::confidence_of(type)});
      }
    }
    f.prompt_tokens = static_cast<int64_t>(10 * std::pow(2000.0, rng.uniform()));  // 10 .. 20000, log-uniform
    f.max_tokens = rng.chance(50) ? 0 : 256 << rng.below(4);
    if (rng.chance(30)) f.latency_budget_ms = 1000 + 1000 * rng.below(40);
    if (rng.chance(10)) f.max_cost_usd = 0.001 * (1 + rng.below(50));
    if (rng.chance(10)) f.priority = rng.below(10);

    for (const auto& b : kBackends) {
      BackendState st;
      st.serves_model = std::find(b.models.begin(), b.models.end(), f.model) != b.models.end();
      st.usable = !rng.chance(5);
      if (!st.usable) st.unusable_reason = "connection refused";
      st.circuit_open = rng.chance(3);
      const auto& prior = policy.backends[static_cast<size_t>(policy.backend_index(b.name))].prior;
      st.latency = {prior.ttft_ms * (0.5 + rng.uniform()), prior.tpot_ms * (0.5 + rng.uniform()), 100};
      if (b.jurisdiction == "device") {
        st.queued = rng.below(40);
        st.tokens_per_second = 50 + rng.below(400);
      }
      s.states.push_back(st);
    }
    if (rng.chance(50)) {
      s.spend.usd_today = 10 * rng.uniform();
      s.spend.usd_month = s.spend.usd_today + 100 * rng.uniform();
      s.spend.tokens_today = rng.below(2'500'000);
      s.spend.tokens_month = s.spend.tokens_today + rng.below(10'000'000);
    }
    s.now = day + std::chrono::minutes(rng.below(1440)) + std::chrono::seconds(rng.below(60));
    out.push_back(std::move(s));
  }
  return out;
}

struct Stats {
  double p50, p99, p999, max, mean;
};

Stats stats_of(std::vector<int64_t>& ns) {
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) { return static_cast<double>(ns[std::min(ns.size() - 1, static_cast<size_t>(q * static_cast<double>(ns.size())))]) / 1000.0; };
  double sum = 0;
  for (int64_t v : ns) sum += static_cast<double>(v);
  return {at(0.50), at(0.99), at(0.999), static_cast<double>(ns.back()) / 1000.0, sum / static_cast<double>(ns.size()) / 1000.0};
}

int64_t ns_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
}

void row(const char* what, size_t calls, const Stats& s, const char* note = "") {
  std::printf("%-38s %9zu %9.3f %9.3f %9.3f %9.2f %9.3f  %s\n", what, calls, s.p50, s.p99, s.p999, s.max, s.mean, note);
}

// A typical chat request of ~2 KB: a system prompt and a user turn of prose
// with an e-mail address and a phone number in it.
dsgw::router::Request typical_request() {
  dsgw::router::Request r;
  r.id = "bench";
  r.tenant = tenant_name(2);
  r.model = "deepseek-r1";
  const std::string system =
      "You are a careful assistant for the operations team. Answer briefly, cite the runbook section "
      "when you can, and never invent figures. If the question is about an incident, ask for the "
      "incident number first.";
  std::string user =
      "Hi, following up on yesterday's maintenance window. The replication lag on the reporting "
      "cluster went up to 340 seconds around 02:15 UTC and the nightly export job retried three times "
      "before it gave up. Version 2.14.3 of the exporter was deployed at 01:50; the previous 2.14.1 did "
      "not show this. Can you summarise what the runbook says about lag during index rebuilds, and "
      "whether we should pause the export while the rebuild runs? ";
  user += "Contact: maria.lopez@example.com or +49 30 901820 for the on-call rotation. ";
  while (user.size() < 1800) {
    user +=
        "The dashboards show CPU at 70 percent on the primary and 35 percent on each replica, disk "
        "queue depth below 4, and network at 1.2 Gbit/s during the copy phase. ";
  }
  r.messages.push_back({"system", system, {}});
  r.messages.push_back({"user", user, {}});
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  size_t calls = 1'000'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--calls") == 0) calls = static_cast<size_t>(std::atoll(argv[i + 1]));
  }

  // The policy, written to a temp file and loaded like the daemon does.
  const std::string text = policy_text();
  const auto path = std::filesystem::temp_directory_path() / ("dsgw-bench-policy-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << text;
  const auto load_start = Clock::now();
  auto loaded = dsgw::policies::load_policy(path.string(), kBackends);
  const double load_ms = static_cast<double>(ns_between(load_start, Clock::now())) / 1e6;
  std::filesystem::remove(path);
  if (!loaded) {
    std::fprintf(stderr, "the generated policy does not load:\n%s\n", loaded.error().message.c_str());
    return 1;
  }
  const Policy& policy = *loaded;
  const std::vector<Scenario> set = scenarios(policy, 1024);

  // What the decisions look like (so the figures are for realistic work).
  size_t matched = 0, kept = 0, errors = 0, finals = 0;
  for (const auto& s : set) {
    const Decision d = decide(policy, s.facts, s.states, s.spend, s.now);
    matched += d.matched_rules.size();
    kept += d.order.size();
    errors += d.error ? 1 : 0;
    for (int r : d.matched_rules) finals += policy.rules[static_cast<size_t>(r)].final ? 1 : 0;
  }

  // Warm up, then one clock pair per call.
  volatile size_t sink = 0;
  for (size_t i = 0; i < 20'000; ++i) {
    const Scenario& s = set[i % set.size()];
    sink = sink + decide(policy, s.facts, s.states, s.spend, s.now).order.size();
  }
  std::vector<int64_t> decide_ns(calls);
  for (size_t i = 0; i < calls; ++i) {
    const Scenario& s = set[i % set.size()];
    const auto a = Clock::now();
    const Decision d = decide(policy, s.facts, s.states, s.spend, s.now);
    const auto b = Clock::now();
    sink = sink + d.order.size();
    decide_ns[i] = ns_between(a, b);
  }
  // The same calls without per-call clocks: the mean of batches of 1024.
  const size_t batches = std::max<size_t>(1, calls / set.size());
  const auto batch_start = Clock::now();
  for (size_t k = 0; k < batches; ++k) {
    for (const Scenario& s : set) sink = sink + decide(policy, s.facts, s.states, s.spend, s.now).order.size();
  }
  const double batch_mean_us = static_cast<double>(ns_between(batch_start, Clock::now())) / 1000.0 /
                               static_cast<double>(batches * set.size());

  // Yardsticks, measured the same way.
  std::vector<int64_t> clock_ns(calls);
  for (size_t i = 0; i < calls; ++i) {
    const auto a = Clock::now();
    const auto b = Clock::now();
    clock_ns[i] = ns_between(a, b);
  }
  const std::string kib(1024, 'x');
  std::vector<int64_t> copy_ns(calls);
  for (size_t i = 0; i < calls; ++i) {
    const auto a = Clock::now();
    std::string copy = kib;
    const auto b = Clock::now();
    sink = sink + copy.size();
    copy_ns[i] = ns_between(a, b);
  }

  // extract_facts on a typical 2 KB prompt (the detector over every message).
  const dsgw::router::Request request = typical_request();
  size_t prompt_bytes = 0;
  for (const auto& m : request.messages) prompt_bytes += m.content.size();
  const dsgw::policies::pii::Detector detector;
  const size_t facts_calls = std::max<size_t>(1000, calls / 10);
  std::vector<int64_t> facts_ns(facts_calls);
  size_t findings = 0;
  for (size_t i = 0; i < facts_calls; ++i) {
    const auto a = Clock::now();
    auto f = dsgw::policies::extract_facts(request, policy, detector);
    const auto b = Clock::now();
    findings = f ? f->findings.size() : 0;
    facts_ns[i] = ns_between(a, b);
  }

  std::printf("bench_policy_decision: %zu rules, %zu tenants, %zu backends; policy loaded in %.2f ms\n",
              policy.rules.size(), policy.tenants.size(), policy.backends.size(), load_ms);
  std::printf("scenarios: %zu rotating; per decision %.1f rules matched, %.1f backends kept, %.0f%% refused "
              "(budget/sovereignty/model), %.0f%% stopped by a final rule\n",
              set.size(), static_cast<double>(matched) / static_cast<double>(set.size()),
              static_cast<double>(kept) / static_cast<double>(set.size()),
              100.0 * static_cast<double>(errors) / static_cast<double>(set.size()),
              100.0 * static_cast<double>(finals) / static_cast<double>(set.size()));
  std::printf("each call timed with its own steady_clock::now() pair (included in every figure below)\n\n");
  std::printf("%-38s %9s %9s %9s %9s %9s %9s\n", "what", "calls", "p50 us", "p99 us", "p99.9 us", "max us", "mean us");
  const Stats d = stats_of(decide_ns);
  row("decide()", calls, d);
  char note[96];
  std::snprintf(note, sizeof note, "(batches of %zu, no per-call clock)", set.size());
  std::printf("%-38s %9zu %9s %9s %9s %9s %9.3f  %s\n", "decide() mean", batches * set.size(), "-", "-", "-", "-",
              batch_mean_us, note);
  char what[64];
  std::snprintf(what, sizeof what, "extract_facts() %zu B prompt", prompt_bytes);
  std::snprintf(note, sizeof note, "(%zu finding(s) each)", findings);
  row(what, facts_calls, stats_of(facts_ns), note);
  row("yardstick: steady_clock::now() pair", calls, stats_of(clock_ns));
  row("yardstick: copy a 1 KiB std::string", calls, stats_of(copy_ns));
  std::printf("\ntarget: decide() p99 <= 20 us: %s\n", d.p99 <= 20.0 ? "met" : "MISSED");
  return sink == 0 ? 2 : 0;
}
