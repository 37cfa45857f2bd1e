// What one request costs on a backend, in USD: token price tables with dated
// changes and time-of-use discounts (hosted APIs), a rented GPU's hourly rate
// (its share of GPU time), or the local machine's energy and amortisation.
// Pure functions over plain data: called for every candidate backend in a
// routing decision, so no allocation and no time-zone library; all times UTC.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace dsgw::policies {

using SysClock = std::chrono::system_clock;

// A time-of-use window in UTC minutes of the day [from, to); wraps midnight
// when to <= from (so from == to covers the whole day). Inside it, the price is
// multiplied by `factor` (e.g. DeepSeek's off-peak 16:30-00:30 UTC at 0.5 or 0.25).
struct TimeOfUse {
  int from_minute = 0;
  int to_minute = 0;
  double factor = 1.0;
  bool contains(SysClock::time_point at) const;
};

// USD per 1M tokens, in force from `effective_from` (UTC midnight) until the
// next table's date.
struct TokenPrice {
  std::chrono::sys_days effective_from;
  double input_cache_hit = 0;
  double input_cache_miss = 0;
  double output = 0;
  std::vector<TimeOfUse> time_of_use;
};

// A rented GPU (the seed article's cloud: 60% off at night, 30% off prepaid):
// the marginal cost of a request is its share of GPU time.
struct GpuHourly {
  double usd_per_hour = 0;
  double tokens_per_second = 1;
  std::vector<TimeOfUse> time_of_use;
  double prepaid_discount = 0;  // 0.3 = 30% off
};

// The local machine: energy plus amortisation for the seconds it is busy.
struct Energy {
  double watts = 0;
  double usd_per_kwh = 0;
  double amortisation_usd_per_hour = 0;
};

struct Pricing {
  std::vector<TokenPrice> token_prices;  // sorted by effective_from
  std::optional<GpuHourly> gpu_hourly;
  std::optional<Energy> energy;
  // True when no component can charge anything: none set, or every set one
  // has zero prices (all token tables, the hourly rate, energy and amortisation).
  bool free() const;
};

struct TokenCounts {
  int64_t prompt_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // part of prompt_tokens
  int64_t completion_tokens = 0;
};

// Cost in USD of one request at time `at`; the components that are set add up.
// Token prices: the table in force at `at` (none in force yet -> 0); cached
// tokens at input_cache_hit, the rest of the prompt at input_cache_miss, output
// at output; times the product of the factors of the windows containing `at`.
// GpuHourly: (prompt + completion) / tokens_per_second seconds of the hourly
// rate, times its windows' factors, times (1 - prepaid_discount); if
// tokens_per_second is not positive, `busy_seconds` is used instead.
// Energy: `busy_seconds` (measured, or predicted for an estimate) of power
// and amortisation. Negative counts and seconds count as 0.
double cost_usd(const Pricing& pricing, const TokenCounts& tokens, double busy_seconds,
                SysClock::time_point at);

// Which token table is in force at `at` (nullptr if none): the last one whose
// effective_from is not after `at`.
const TokenPrice* price_in_force(const Pricing& pricing, SysClock::time_point at);

}  // namespace dsgw::policies
