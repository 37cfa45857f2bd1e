#include "policies/cost_model.h"

#include <algorithm>

namespace dsgw::policies {
namespace {

constexpr int64_t kMinutesPerDay = 24 * 60;

// UTC minute of the day, by arithmetic (the system clock counts UTC without
// leap seconds, so days are exactly 1440 minutes).
int minute_of_day(SysClock::time_point at) {
  const int64_t minutes = std::chrono::floor<std::chrono::minutes>(at.time_since_epoch()).count();
  int64_t m = minutes % kMinutesPerDay;
  if (m < 0) m += kMinutesPerDay;  // before 1970
  return static_cast<int>(m);
}

bool window_contains(const TimeOfUse& w, int minute) {
  if (w.from_minute < w.to_minute) return minute >= w.from_minute && minute < w.to_minute;
  return minute >= w.from_minute || minute < w.to_minute;  // wraps midnight
}

double factor_at(const std::vector<TimeOfUse>& windows, int minute) {
  double f = 1.0;
  for (const TimeOfUse& w : windows) {
    if (window_contains(w, minute)) f *= w.factor;
  }
  return f;
}

double non_negative(double x) { return x > 0 ? x : 0.0; }
double non_negative(int64_t x) { return x > 0 ? static_cast<double>(x) : 0.0; }

}  // namespace

bool TimeOfUse::contains(SysClock::time_point at) const { return window_contains(*this, minute_of_day(at)); }

bool Pricing::free() const {
  for (const TokenPrice& p : token_prices) {
    if (p.input_cache_hit != 0 || p.input_cache_miss != 0 || p.output != 0) return false;
  }
  if (gpu_hourly && gpu_hourly->usd_per_hour != 0) return false;
  if (energy &&
      ((energy->watts != 0 && energy->usd_per_kwh != 0) || energy->amortisation_usd_per_hour != 0)) {
    return false;
  }
  return true;
}

const TokenPrice* price_in_force(const Pricing& pricing, SysClock::time_point at) {
  // First table that starts after `at`; the one before it is in force.
  const auto& tables = pricing.token_prices;
  const auto after = std::upper_bound(
      tables.begin(), tables.end(), at,
      [](SysClock::time_point t, const TokenPrice& p) { return t < SysClock::time_point(p.effective_from); });
  if (after == tables.begin()) return nullptr;
  return &*std::prev(after);
}

double cost_usd(const Pricing& pricing, const TokenCounts& tokens, double busy_seconds,
                SysClock::time_point at) {
  const int minute = minute_of_day(at);
  const double prompt = non_negative(tokens.prompt_tokens);
  const double cached = std::min(non_negative(tokens.cached_prompt_tokens), prompt);
  const double completion = non_negative(tokens.completion_tokens);
  const double busy = non_negative(busy_seconds);

  double usd = 0;
  if (const TokenPrice* p = price_in_force(pricing, at)) {
    const double per_million =
        cached * p->input_cache_hit + (prompt - cached) * p->input_cache_miss + completion * p->output;
    usd += per_million / 1e6 * factor_at(p->time_of_use, minute);
  }
  if (pricing.gpu_hourly) {
    const GpuHourly& g = *pricing.gpu_hourly;
    const double seconds = g.tokens_per_second > 0 ? (prompt + completion) / g.tokens_per_second : busy;
    usd += g.usd_per_hour * seconds / 3600.0 * factor_at(g.time_of_use, minute) * (1.0 - g.prepaid_discount);
  }
  if (pricing.energy) {
    const Energy& e = *pricing.energy;
    const double hours = busy / 3600.0;
    usd += e.watts / 1000.0 * hours * e.usd_per_kwh + e.amortisation_usd_per_hour * hours;
  }
  return usd;
}

}  // namespace dsgw::policies
