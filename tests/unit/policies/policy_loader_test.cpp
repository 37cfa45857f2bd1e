#include "policies/policy_loader.h"

#include <doctest/doctest.h>

#include <regex>
#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/runtime.h"
#include "tests/unit/test_util.h"

using namespace std::chrono;
using dsgw::policies::BackendFacts;
using dsgw::policies::BackendMask;
using dsgw::policies::load_policy;
using dsgw::policies::PiiType;
using dsgw::policies::Policy;
using dsgw::policies::Prefer;
using dsgw::test::contains;
using dsgw::test::TempDir;

namespace {

// local (device), site (site), cn-api (cn), eu-api (eu): indices 0..3.
const std::vector<BackendFacts> kBackends{
    {"local", "device", {"m"}},
    {"site", "site", {"m"}},
    {"cn-api", "cn", {"m", "chat"}},
    {"eu-api", "eu", {"m"}},
};

constexpr BackendMask bit(int b) { return BackendMask{1} << b; }

// Two classes in six lines; error snippets go after it (from line 7).
const std::string kBase =
    "[[class]]\n"
    "name = \"public\"\n"
    "jurisdictions = [\"device\", \"site\", \"cn\", \"eu\"]\n"
    "[[class]]\n"
    "name = \"restricted\"\n"
    "jurisdictions = [\"device\"]\n";

struct Loaded {
  std::unique_ptr<TempDir> dir = std::make_unique<TempDir>();
  std::string path;
  dsgw::Result<Policy> result = dsgw::make_error(dsgw::ErrorCode::kInternal, "not loaded");
};

Loaded load_text(const std::string& text) {
  Loaded l;
  l.path = l.dir->write("policy.toml", text);
  l.result = load_policy(l.path, kBackends);
  return l;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out.append("\n  ").append(s);
  return out;
}

// The error lines of a policy that must fail to load, the file shown as "F".
std::vector<std::string> errors_of(const std::string& text) {
  const Loaded l = load_text(text);
  REQUIRE_MESSAGE(!l.result.has_value(), "expected the policy to fail:\n" << text);
  CHECK(l.result.error().code == dsgw::ErrorCode::kInvalidRequest);
  return dsgw::test::diagnostics_as_f(l.result.error().message, l.path);
}

std::string only_error(const std::string& text) {
  const auto errors = errors_of(text);
  REQUIRE_MESSAGE(errors.size() == 1, "errors:" << join(errors));
  return errors[0];
}

bool well_formed(const std::string& line) { return dsgw::test::well_formed_diagnostic(line); }

const std::string kValid = R"(
[defaults]
data_class = "internal"
prefer = "cost"
expected_output_tokens = 256
min_confidence = 0.6
max_attempts = 4
breaker_failures = 7
breaker_cooldown_ms = 2000
retry_base_ms = 10
retry_cap_ms = 500
max_retry_after_ms = 3000

[[class]]
name = "public"
jurisdictions = ["device", "site", "cn", "eu"]

[[class]]
name = "internal"
jurisdictions = ["device", "site", "eu"]

[[class]]
name = "restricted"
jurisdictions = ["device"]

[pii]
credit_card = "restricted"
email = "internal"
ipv4 = "ignore"

[[tenant]]
name = "team-a"
data_class = "restricted"
models = ["m"]
usd_per_day = 2.5
usd_per_month = 40
tokens_per_day = 1000
tokens_per_month = 20000
priority = 3
devices = ["plant-7-*"]

[[tenant]]
name = "team-b"

[[backend]]
name = "cn-api"
ttft_ms = 2000
tpot_ms = 40
[[backend.tokens_price]]
from = "2025-09-05"
input_cache_hit = 0.028
input_cache_miss = 0.28
output = 0.42
[[backend.tokens_price]]
from = "2025-01-20"
input_cache_miss = 0.55
output = 2.19
[[backend.tokens_price.time_of_use]]
from = "16:30"
to = "00:30"
factor = 0.25

[[backend]]
name = "eu-api"
[backend.gpu_hourly]
usd_per_hour = 2.5
tokens_per_second = 1500
prepaid_discount = 0.3
[[backend.gpu_hourly.time_of_use]]
from = "22:00"
to = "06:00"
factor = 0.4

[[backend]]
name = "local"
[backend.energy]
watts = 350
usd_per_kwh = 0.12
amortisation_usd_per_hour = 0.1

[[rule]]
id = "low"
priority = 1
[rule.when]
tenant = ["team-b"]
model = ["m"]
prompt_tokens_min = 10
prompt_tokens_max = 100
latency_budget_ms_max = 5000
max_cost_usd_max = 0.5
time_from = "22:00"
time_to = "06:00"
[rule.then]
deny = ["cn-api", "eu-api"]
slo_ms = 3000
priority = 7

[[rule]]
id = "high"
priority = 50
final = true
[rule.when]
data_class = ["restricted", "internal"]
pii = ["credit_card", "iban"]
device = ["plant-*"]
[rule.then]
allow = ["local", "site"]
order = ["site", "local"]

[[rule]]
id = "same-priority-as-low-but-later"
priority = 1
[rule.then]
prefer = "latency"
)";

}  // namespace

TEST_CASE("policy: a valid policy loads with its classes, masks, prices, tenants and rules sorted by priority") {
  const Loaded l = load_text(kValid);
  REQUIRE_MESSAGE(l.result.has_value(), l.result.error().message);
  const Policy& p = *l.result;

  CHECK(p.path == l.path);
  CHECK(std::regex_match(p.revision, std::regex("^[0-9a-f]{12}$")));

  REQUIRE(p.classes.size() == 3);
  CHECK(p.classes[0].name == "public");
  CHECK(p.classes[2].name == "restricted");
  CHECK(p.class_rank("internal") == 1);
  CHECK(p.class_rank("secret") == -1);
  REQUIRE(p.class_backends.size() == 3);
  CHECK(p.class_backends[0] == (bit(0) | bit(1) | bit(2) | bit(3)));
  CHECK(p.class_backends[1] == (bit(0) | bit(1) | bit(3)));
  CHECK(p.class_backends[2] == bit(0));

  CHECK(p.default_class == 1);
  CHECK(p.default_prefer == Prefer::kCost);
  CHECK(p.expected_output_tokens == 256);
  CHECK(p.min_confidence == doctest::Approx(0.6));
  CHECK(p.dispatch.max_attempts == 4);
  CHECK(p.dispatch.breaker_failures == 7);
  CHECK(p.dispatch.breaker_cooldown_ms == 2000);
  CHECK(p.dispatch.retry_base_ms == 10);
  CHECK(p.dispatch.retry_cap_ms == 500);
  CHECK(p.dispatch.max_retry_after_ms == 3000);

  CHECK(p.pii_class[static_cast<size_t>(PiiType::kCreditCard)] == 2);
  CHECK(p.pii_class[static_cast<size_t>(PiiType::kEmail)] == 1);
  CHECK(p.pii_class[static_cast<size_t>(PiiType::kIpv4)] == -1);  // "ignore"
  CHECK(p.pii_class[static_cast<size_t>(PiiType::kIban)] == -1);   // not mapped

  REQUIRE(p.tenants.size() == 2);
  const auto* a = p.tenant("team-a");
  REQUIRE(a != nullptr);
  CHECK(a->data_class == 2);
  CHECK(a->models == std::vector<std::string>{"m"});
  CHECK(a->budget.usd_per_day == 2.5);
  CHECK(a->budget.usd_per_month == 40.0);
  CHECK(a->budget.tokens_per_day == 1000);
  CHECK(a->budget.tokens_per_month == 20000);
  CHECK(a->priority == 3);
  CHECK(p.tenant_of_device("plant-7-a1") == a);
  CHECK(p.tenant_of_device("plant-8-a1") == nullptr);
  const auto* b = p.tenant("team-b");
  REQUIRE(b != nullptr);
  CHECK(b->data_class == 1);  // the default class
  CHECK_FALSE(b->budget.usd_per_day.has_value());
  CHECK_FALSE(b->priority.has_value());

  // Backends follow the daemon config's order, whatever the policy file's order.
  REQUIRE(p.backends.size() == 4);
  CHECK(p.backend_index("cn-api") == 2);
  const auto& cn = p.backends[2];
  CHECK(cn.jurisdiction == "cn");
  CHECK(cn.prior.ttft_ms == 2000);
  CHECK(cn.prior.tpot_ms == 40);
  REQUIRE(cn.pricing.token_prices.size() == 2);
  CHECK(cn.pricing.token_prices[0].effective_from == sys_days(year(2025) / January / 20));  // sorted by date
  CHECK(cn.pricing.token_prices[0].input_cache_hit == 0.55);  // defaults to the miss price
  REQUIRE(cn.pricing.token_prices[0].time_of_use.size() == 1);
  CHECK(cn.pricing.token_prices[0].time_of_use[0].from_minute == 16 * 60 + 30);
  CHECK(cn.pricing.token_prices[0].time_of_use[0].to_minute == 30);
  CHECK(cn.pricing.token_prices[0].time_of_use[0].factor == 0.25);
  CHECK(cn.pricing.token_prices[1].input_cache_hit == 0.028);
  const auto& eu = p.backends[3];
  REQUIRE(eu.pricing.gpu_hourly.has_value());
  CHECK(eu.pricing.gpu_hourly->usd_per_hour == 2.5);
  CHECK(eu.pricing.gpu_hourly->tokens_per_second == 1500);
  CHECK(eu.pricing.gpu_hourly->prepaid_discount == doctest::Approx(0.3));
  CHECK(eu.pricing.gpu_hourly->time_of_use.size() == 1);
  REQUIRE(p.backends[0].pricing.energy.has_value());
  CHECK(p.backends[0].pricing.energy->watts == 350);
  CHECK(p.backends[1].pricing.free());  // "site" has no [[backend]] table: free, default priors
  CHECK(p.backends[1].prior.ttft_ms == 1000);

  // Priority descending; equal priorities keep file order.
  REQUIRE(p.rules.size() == 3);
  CHECK(p.rules[0].id == "high");
  CHECK(p.rules[1].id == "low");
  CHECK(p.rules[2].id == "same-priority-as-low-but-later");
  const auto& high = p.rules[0];
  CHECK(high.final);
  CHECK(high.when.classes == ((1u << 2) | (1u << 1)));
  CHECK(high.when.pii == ((1u << static_cast<int>(PiiType::kCreditCard)) | (1u << static_cast<int>(PiiType::kIban))));
  CHECK(high.when.devices == std::vector<std::string>{"plant-*"});
  REQUIRE(high.then.allow.has_value());
  CHECK(*high.then.allow == (bit(0) | bit(1)));
  CHECK(high.then.prefer == Prefer::kOrder);  // an order list implies prefer = "order"
  CHECK(high.then.order == std::vector<int>{1, 0});
  const auto& low = p.rules[1];
  CHECK_FALSE(low.final);
  CHECK(low.when.tenants == std::vector<std::string>{"team-b"});
  CHECK(low.when.models == std::vector<std::string>{"m"});
  CHECK(low.when.prompt_tokens_min == 10);
  CHECK(low.when.prompt_tokens_max == 100);
  CHECK(low.when.latency_budget_ms_max == 5000);
  CHECK(low.when.max_cost_usd_max == 0.5);
  REQUIRE(low.when.time.has_value());
  CHECK(low.when.time->from_minute == 22 * 60);
  CHECK(low.when.time->to_minute == 6 * 60);
  CHECK(low.then.deny == (bit(2) | bit(3)));
  CHECK_FALSE(low.then.allow.has_value());
  CHECK_FALSE(low.then.prefer.has_value());
  CHECK(low.then.slo_ms == 3000);
  CHECK(low.then.priority == 7);
  CHECK(p.rules[2].then.prefer == Prefer::kLatency);
}

TEST_CASE("policy: the revision changes with the file's text") {
  const Loaded a = load_text(kBase);
  const Loaded b = load_text(kBase + "# a comment\n");
  REQUIRE(a.result.has_value());
  REQUIRE(b.result.has_value());
  CHECK(a.result->revision != b.result->revision);
}

TEST_CASE("policy: unknown keys are errors at every level, with file:line:column and the key path") {
  CHECK(only_error("colour = 1\n" + kBase) == "F:1:1: colour: unknown key");
  CHECK(only_error("[defaults]\nspeed = 1\n" + kBase) == "F:2:1: defaults.speed: unknown key");
  CHECK(only_error(kBase + "colour = \"red\"\n") == "F:7:1: class[1].colour: unknown key");
  CHECK(contains(only_error(kBase + "[pii]\nemial = \"restricted\"\n"),
                 "F:8:9: pii.emial: unknown PII type; known: credit_card, iban, "));
  CHECK(only_error(kBase + "[[backend]]\nname = \"cn-api\"\nspeed = 1\n") == "F:9:1: backend[0].speed: unknown key");
  const std::string price =
      "[[backend]]\nname = \"cn-api\"\n[[backend.tokens_price]]\nfrom = \"2025-01-01\"\n"
      "input_cache_miss = 1.0\noutput = 2.0\n";  // lines 7..12
  CHECK(only_error(kBase + price + "discount = 0.5\n") == "F:13:1: backend[0].tokens_price[0].discount: unknown key");
  CHECK(only_error(kBase + price + "[[backend.tokens_price.time_of_use]]\nfrom = \"16:30\"\nto = \"00:30\"\n"
                                   "factor = 0.5\nday = \"mon\"\n") ==
        "F:17:1: backend[0].tokens_price[0].time_of_use[0].day: unknown key");
  CHECK(only_error(kBase + "[[backend]]\nname = \"eu-api\"\n[backend.gpu_hourly]\nusd_per_hour = 1\n"
                           "tokens_per_second = 100\nspot = true\n") ==
        "F:12:1: backend[0].gpu_hourly.spot: unknown key");
  CHECK(only_error(kBase + "[[backend]]\nname = \"local\"\n[backend.energy]\nwatts = 1\nusd_per_kwh = 0.1\n"
                           "volts = 230\n") == "F:12:1: backend[0].energy.volts: unknown key");
  CHECK(only_error(kBase + "[[tenant]]\nname = \"a\"\ncolour = 1\n") == "F:9:1: tenant[0].colour: unknown key");
  CHECK(only_error(kBase + "[[rule]]\nid = \"r\"\nweight = 1\n[rule.then]\ndeny = [\"cn-api\"]\n") ==
        "F:9:1: rule[0].weight: unknown key");
  CHECK(only_error(kBase + "[[rule]]\nid = \"r\"\n[rule.when]\nuser = \"x\"\n[rule.then]\ndeny = [\"cn-api\"]\n") ==
        "F:10:1: rule[0].when.user: unknown key");
  CHECK(only_error(kBase + "[[rule]]\nid = \"r\"\n[rule.then]\nroute = \"x\"\n") ==
        "F:10:1: rule[0].then.route: unknown key");
}

TEST_CASE("policy: unknown class, backend and PII-type names are errors") {
  CHECK(only_error("[defaults]\ndata_class = \"secret\"\n" + kBase) ==
        "F:2:14: defaults.data_class: unknown data class \"secret\"; the [[class]] tables define \"public\", "
        "\"restricted\"");
  CHECK(contains(only_error(kBase + "[pii]\nemail = \"secret\"\n"), "F:8:9: pii.email: unknown data class \"secret\""));
  CHECK(contains(only_error(kBase + "[[tenant]]\nname = \"a\"\ndata_class = \"secret\"\n"),
                 "F:9:14: tenant[0].data_class: unknown data class \"secret\""));
  CHECK(contains(only_error(kBase + "[[rule]]\nid = \"r\"\n[rule.when]\ndata_class = [\"public\", \"secret\"]\n"
                                    "[rule.then]\ndeny = [\"cn-api\"]\n"),
                 "F:10:14: rule[0].when.data_class: unknown data class \"secret\""));
  CHECK(only_error(kBase + "[[rule]]\nid = \"r\"\n[rule.when]\npii = [\"credit_crd\"]\n[rule.then]\ndeny = [\"cn-api\"]\n")
            .rfind("F:10:7: rule[0].when.pii: unknown PII type \"credit_crd\"; known: ", 0) == 0);

  CHECK(only_error(kBase + "[[backend]]\nname = \"nowhere\"\n") ==
        "F:8:8: backend[0].name: no [[backend]] named \"nowhere\" in the daemon config");
  CHECK(only_error(kBase + "[[rule]]\nid = \"r\"\n[rule.then]\nallow = [\"local\", \"nowhere\"]\n") ==
        "F:10:9: rule[0].then.allow: no [[backend]] named \"nowhere\" in the daemon config");
  CHECK(only_error(kBase + "[[rule]]\nid = \"r\"\n[rule.then]\ndeny = [\"nowhere\"]\n") ==
        "F:10:8: rule[0].then.deny: no [[backend]] named \"nowhere\" in the daemon config");
  CHECK(only_error(kBase + "[[rule]]\nid = \"r\"\n[rule.then]\norder = [\"nowhere\"]\n") ==
        "F:10:9: rule[0].then.order: no [[backend]] named \"nowhere\" in the daemon config");
}

TEST_CASE("policy: bad times of day and dates are errors") {
  const std::string rule_head = "[[rule]]\nid = \"r\"\n[rule.when]\n";  // lines 7..9
  const std::string rule_tail = "[rule.then]\ndeny = [\"cn-api\"]\n";
  for (const char* bad : {"25:00", "7:30", "07:60", "noon", "07:30:00", "24:01"}) {
    CAPTURE(bad);
    CHECK(only_error(kBase + rule_head + "time_from = \"" + bad + "\"\ntime_to = \"08:00\"\n" + rule_tail) ==
          "F:10:13: rule[0].when.time_from: expected a UTC time \"HH:MM\", got \"" + std::string(bad) + "\"");
  }
  CHECK(only_error(kBase + rule_head + "time_from = \"22:00\"\n" + rule_tail) ==
        "F:9:1: rule[0].when.time_to: a window needs both time_from and time_to");
  CHECK(only_error(kBase + rule_head + "time_from = \"22:00\"\ntime_to = \"22:00\"\n" + rule_tail) ==
        "F:11:11: rule[0].when.time_to: an empty window (from == to)");
  CHECK(load_text(kBase + rule_head + "time_from = \"00:00\"\ntime_to = \"24:00\"\n" + rule_tail).result.has_value());

  const std::string price = "[[backend]]\nname = \"cn-api\"\n[[backend.tokens_price]]\n";  // lines 7..9
  CHECK(only_error(kBase + price + "from = \"2025-13-01\"\ninput_cache_miss = 1\noutput = 1\n") ==
        "F:10:8: backend[0].tokens_price[0].from: expected a date \"YYYY-MM-DD\", got \"2025-13-01\"");
  CHECK(only_error(kBase + price + "from = \"2025-02-30\"\ninput_cache_miss = 1\noutput = 1\n") ==
        "F:10:8: backend[0].tokens_price[0].from: expected a date \"YYYY-MM-DD\", got \"2025-02-30\"");
  CHECK(contains(only_error(kBase + price + "from = \"soon\"\ninput_cache_miss = 1\noutput = 1\n"),
                 "backend[0].tokens_price[0].from: expected a date"));
  // A bad time in a time-of-use window is one error, not also "missing".
  CHECK(only_error(kBase + price + "from = \"2025-01-01\"\ninput_cache_miss = 1\noutput = 1\n"
                                   "[[backend.tokens_price.time_of_use]]\nfrom = \"16:61\"\nto = \"00:30\"\n"
                                   "factor = 0.5\n") ==
        "F:14:8: backend[0].tokens_price[0].time_of_use[0].from: expected a UTC time \"HH:MM\", got \"16:61\"");
  CHECK(contains(only_error(kBase + price + "from = \"2025-01-01\"\ninput_cache_miss = 1\noutput = 1\n"
                                            "[[backend.tokens_price.time_of_use]]\nfactor = 0.5\n"),
                 "F:13:1: backend[0].tokens_price[0].time_of_use[0].from: is required but missing"));
}

TEST_CASE("policy: duplicate rule ids, tenants, classes and backend tables are errors") {
  CHECK(only_error(kBase + "[[class]]\nname = \"public\"\njurisdictions = [\"eu\"]\n") ==
        "F:8:8: class[2].name: duplicate class \"public\"");
  CHECK(only_error(kBase + "[[tenant]]\nname = \"a\"\n[[tenant]]\nname = \"a\"\n") ==
        "F:10:8: tenant[1].name: duplicate tenant \"a\"");
  const std::string rule = "[[rule]]\nid = \"r\"\n[rule.then]\ndeny = [\"cn-api\"]\n";
  CHECK(only_error(kBase + rule + rule) == "F:12:6: rule[1].id: duplicate rule id \"r\"");
  // A second [[backend]] table for one backend, even one with only latency priors.
  const std::string priors = "[[backend]]\nname = \"cn-api\"\nttft_ms = 100\n";  // lines 7..9, then 10..12
  CHECK(only_error(kBase + priors + priors) == "F:11:8: backend[1].name: backend \"cn-api\" is described twice");
}

TEST_CASE("policy: prefer = \"order\" needs an order list; prefer takes three values") {
  CHECK(only_error(kBase + "[[rule]]\nid = \"r\"\n[rule.then]\nprefer = \"order\"\n") ==
        "F:10:10: rule[0].then.prefer: prefer = \"order\" needs an order list");
  CHECK(only_error("[defaults]\nprefer = \"cheapest\"\n" + kBase) ==
        "F:2:10: defaults.prefer: expected \"cost\", \"latency\" or \"order\", got \"cheapest\"");
  CHECK(only_error(kBase + "[[rule]]\nid = \"r\"\n") == "F:7:1: rule[0].then: is required but missing");
}

TEST_CASE("policy: negative prices and out-of-range numbers are errors") {
  const std::string price = "[[backend]]\nname = \"cn-api\"\n[[backend.tokens_price]]\nfrom = \"2025-01-01\"\n";
  CHECK(only_error(kBase + price + "input_cache_miss = 1\noutput = -0.5\n") ==
        "F:12:10: backend[0].tokens_price[0].output: must not be negative");
  CHECK(errors_of(kBase + price + "input_cache_miss = -1\ninput_cache_hit = -1\noutput = 1\n").size() == 2);
  CHECK(only_error(kBase + "[[backend]]\nname = \"local\"\n[backend.energy]\nwatts = -350\nusd_per_kwh = 0.1\n") ==
        "F:10:9: backend[0].energy.watts: must not be negative");
  CHECK(only_error(kBase + "[[backend]]\nname = \"eu-api\"\n[backend.gpu_hourly]\nusd_per_hour = -2\n"
                           "tokens_per_second = 100\n") ==
        "F:10:16: backend[0].gpu_hourly.usd_per_hour: must not be negative");
  CHECK(only_error(kBase + "[[backend]]\nname = \"eu-api\"\nttft_ms = -1\n") ==
        "F:9:11: backend[0].ttft_ms: must not be negative");
  CHECK(contains(only_error("[defaults]\nmax_attempts = 0\n" + kBase),
                 "F:2:16: defaults.max_attempts: expected an integer in [1, 10], got 0"));
}

TEST_CASE("policy: every problem of a file is reported, each as file:line:column: key: what") {
  const auto errors = errors_of("[defaults]\nprefer = \"fast\"\n" + kBase +
                                "[[tenant]]\nname = \"a\"\ndata_class = \"nope\"\n"
                                "[[rule]]\nid = \"r\"\n[rule.then]\nallow = [\"mars\"]\nfoo = 1\n");
  REQUIRE_MESSAGE(errors.size() == 4, "errors:" << join(errors));
  for (const auto& e : errors) CHECK_MESSAGE(well_formed(e), e);
}

TEST_CASE("policy: a file with no [[class]], a syntax error or no file at all is an error") {
  CHECK(contains(only_error("[defaults]\n"), "class: is required but missing"));
  CHECK(contains(only_error(kBase + "[[rule]\n"), "F:7:"));
  auto missing = load_policy("/nonexistent/policy.toml", kBackends);
  REQUIRE_FALSE(missing.has_value());
  CHECK(contains(missing.error().message, "/nonexistent/policy.toml"));
  CHECK(contains(missing.error().message, "cannot open"));
}

TEST_CASE("policy: the shipped config/policy.toml loads against the backends of config/dsgw.toml") {
  const auto config = dsgw::config::load(DSGW_SOURCE_DIR "/config/dsgw.toml");
  REQUIRE_MESSAGE(config.has_value(), config.error().message);
  REQUIRE_FALSE(config->policy.file.empty());
  const auto facts = dsgw::daemon::backend_facts(*config);
  const auto policy = load_policy(config->policy.file, facts);
  REQUIRE_MESSAGE(policy.has_value(), policy.error().message);
  const Policy& p = *policy;
  REQUIRE(p.backends.size() == facts.size());
  CHECK(p.classes.size() >= 2);
  CHECK(p.class_rank("restricted") >= 0);
  // Restricted data may go only to the device or the site, never to a region.
  const int restricted = p.class_rank("restricted");
  for (size_t b = 0; b < p.backends.size(); ++b) {
    const bool allowed = (p.class_backends[static_cast<size_t>(restricted)] & bit(static_cast<int>(b))) != 0;
    CAPTURE(p.backends[b].name);
    CHECK(allowed == (p.backends[b].jurisdiction == "device" || p.backends[b].jurisdiction == "site"));
  }
  CHECK(p.pii_class[static_cast<size_t>(PiiType::kCreditCard)] == restricted);
  CHECK_FALSE(p.rules.empty());
  for (size_t i = 1; i < p.rules.size(); ++i) CHECK(p.rules[i - 1].priority >= p.rules[i].priority);
  CHECK(p.tenant("anonymous") != nullptr);
}
