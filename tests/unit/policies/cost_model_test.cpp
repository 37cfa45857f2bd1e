#include "policies/cost_model.h"

#include <doctest/doctest.h>

using namespace std::chrono;
using dsgw::policies::cost_usd;
using dsgw::policies::Energy;
using dsgw::policies::GpuHourly;
using dsgw::policies::price_in_force;
using dsgw::policies::Pricing;
using dsgw::policies::SysClock;
using dsgw::policies::TimeOfUse;
using dsgw::policies::TokenCounts;
using dsgw::policies::TokenPrice;

namespace {

constexpr double kEps = 1e-12;

SysClock::time_point utc(year_month_day day, int hour, int minute, int second = 0) {
  return SysClock::time_point(sys_days(day)) + hours(hour) + minutes(minute) + seconds(second);
}

constexpr year_month_day kDay = year(2025) / September / 10;

// DeepSeek-like tables: a price change on 2025-09-05, off-peak 16:30-00:30 UTC.
Pricing two_tables() {
  Pricing p;
  p.token_prices.push_back(TokenPrice{sys_days(year(2025) / January / 1), 0.07, 0.27, 1.10, {}});
  p.token_prices.push_back(TokenPrice{sys_days(year(2025) / September / 5), 0.028, 0.28, 0.42, {}});
  return p;
}

const TokenCounts kMillionMisses{1'000'000, 0, 0};

}  // namespace

TEST_CASE("cost: the token table in force switches at its effective date, UTC midnight") {
  const Pricing p = two_tables();

  CHECK(price_in_force(p, utc(year(2024) / December / 31, 23, 59, 59)) == nullptr);
  CHECK(cost_usd(p, kMillionMisses, 0, utc(year(2024) / December / 31, 23, 59, 59)) == 0.0);

  CHECK(price_in_force(p, utc(year(2025) / January / 1, 0, 0)) == &p.token_prices[0]);
  CHECK(price_in_force(p, utc(year(2025) / September / 4, 23, 59, 59) + milliseconds(999)) ==
        &p.token_prices[0]);
  CHECK(cost_usd(p, kMillionMisses, 0, utc(year(2025) / September / 4, 23, 59, 59)) ==
        doctest::Approx(0.27).epsilon(kEps));

  CHECK(price_in_force(p, utc(year(2025) / September / 5, 0, 0)) == &p.token_prices[1]);
  CHECK(cost_usd(p, kMillionMisses, 0, utc(year(2025) / September / 5, 0, 0)) ==
        doctest::Approx(0.28).epsilon(kEps));
  CHECK(price_in_force(p, utc(year(2031) / March / 1, 12, 0)) == &p.token_prices[1]);

  CHECK(price_in_force(Pricing{}, utc(kDay, 12, 0)) == nullptr);
}

TEST_CASE("cost: cached prompt tokens at the cache-hit price, the rest at the miss price, output apart") {
  const Pricing p = two_tables();
  const auto at = utc(year(2025) / June / 1, 12, 0);
  // 1M hits * 0.07 + 2M misses * 0.27 + 0.5M output * 1.10
  CHECK(cost_usd(p, TokenCounts{3'000'000, 1'000'000, 500'000}, 0, at) ==
        doctest::Approx(1.16).epsilon(kEps));
  // One small request: 1200 prompt (1024 cached), 300 out.
  CHECK(cost_usd(p, TokenCounts{1200, 1024, 300}, 0, at) ==
        doctest::Approx((1024 * 0.07 + 176 * 0.27 + 300 * 1.10) / 1e6).epsilon(kEps));
  // More cached than prompt is clamped to the prompt; negative counts are 0.
  CHECK(cost_usd(p, TokenCounts{1'000'000, 5'000'000, 0}, 0, at) == doctest::Approx(0.07).epsilon(kEps));
  CHECK(cost_usd(p, TokenCounts{-5, -5, -5}, -1, at) == 0.0);
}

TEST_CASE("cost: an off-peak window 16:30-00:30 UTC wraps midnight") {
  const TimeOfUse off_peak{16 * 60 + 30, 30, 0.5};
  CHECK_FALSE(off_peak.contains(utc(kDay, 16, 29, 59)));
  CHECK(off_peak.contains(utc(kDay, 16, 30)));
  CHECK(off_peak.contains(utc(kDay, 23, 59, 59)));
  CHECK(off_peak.contains(utc(kDay, 0, 0)));
  CHECK(off_peak.contains(utc(kDay, 0, 29, 59)));
  CHECK_FALSE(off_peak.contains(utc(kDay, 0, 30)));
  CHECK_FALSE(off_peak.contains(utc(kDay, 12, 0)));
  // Before 1970 the minute of the day is still right.
  CHECK(off_peak.contains(utc(year(1969) / December / 31, 23, 0)));
  CHECK_FALSE(off_peak.contains(utc(year(1969) / December / 31, 12, 0)));

  const TimeOfUse daytime{9 * 60, 17 * 60, 2.0};
  CHECK_FALSE(daytime.contains(utc(kDay, 8, 59)));
  CHECK(daytime.contains(utc(kDay, 9, 0)));
  CHECK_FALSE(daytime.contains(utc(kDay, 17, 0)));

  const TimeOfUse all_day{600, 600, 0.9};
  CHECK(all_day.contains(utc(kDay, 3, 0)));
  CHECK(all_day.contains(utc(kDay, 10, 0)));

  Pricing p = two_tables();
  p.token_prices[1].time_of_use.push_back(off_peak);
  CHECK(cost_usd(p, kMillionMisses, 0, utc(kDay, 12, 0)) == doctest::Approx(0.28).epsilon(kEps));
  CHECK(cost_usd(p, kMillionMisses, 0, utc(kDay, 17, 0)) == doctest::Approx(0.14).epsilon(kEps));
  CHECK(cost_usd(p, kMillionMisses, 0, utc(kDay, 0, 15)) == doctest::Approx(0.14).epsilon(kEps));
  CHECK(cost_usd(p, kMillionMisses, 0, utc(kDay, 0, 30)) == doctest::Approx(0.28).epsilon(kEps));

  // Overlapping windows multiply: a further 0.5 off from 18:00 to 20:00.
  p.token_prices[1].time_of_use.push_back(TimeOfUse{18 * 60, 20 * 60, 0.5});
  CHECK(cost_usd(p, kMillionMisses, 0, utc(kDay, 19, 0)) == doctest::Approx(0.07).epsilon(kEps));
  CHECK(cost_usd(p, kMillionMisses, 0, utc(kDay, 17, 0)) == doctest::Approx(0.14).epsilon(kEps));

  // The old table has no windows: no discount before the switch.
  CHECK(cost_usd(p, kMillionMisses, 0, utc(year(2025) / September / 4, 17, 0)) ==
        doctest::Approx(0.27).epsilon(kEps));
}

TEST_CASE("cost: a rented GPU charges its share of GPU time, 60% off at night and 30% off prepaid") {
  Pricing p;
  p.gpu_hourly = GpuHourly{2.0, 1000, {TimeOfUse{22 * 60, 6 * 60, 0.4}}, 0.3};
  // 1.8M tokens at 1000 tokens/s: 1800 s = half an hour of a $2/h GPU = $1 list price.
  const TokenCounts tokens{1'000'000, 400'000, 800'000};
  CHECK(cost_usd(p, tokens, 99, utc(kDay, 12, 0)) == doctest::Approx(0.7).epsilon(kEps));
  CHECK(cost_usd(p, tokens, 99, utc(kDay, 23, 0)) == doctest::Approx(0.28).epsilon(kEps));
  CHECK(cost_usd(p, tokens, 99, utc(kDay, 5, 59)) == doctest::Approx(0.28).epsilon(kEps));
  CHECK(cost_usd(p, tokens, 99, utc(kDay, 6, 0)) == doctest::Approx(0.7).epsilon(kEps));

  p.gpu_hourly->prepaid_discount = 0;
  CHECK(cost_usd(p, tokens, 99, utc(kDay, 12, 0)) == doctest::Approx(1.0).epsilon(kEps));

  // Without a throughput, the busy seconds are the GPU time.
  p.gpu_hourly->tokens_per_second = 0;
  CHECK(cost_usd(p, tokens, 900, utc(kDay, 12, 0)) == doctest::Approx(0.5).epsilon(kEps));
}

TEST_CASE("cost: the local machine charges energy and amortisation for its busy seconds") {
  Pricing p;
  p.energy = Energy{350, 0.12, 0};
  // 350 W for an hour is 0.35 kWh; at $0.12/kWh, $0.042. Tokens don't matter.
  CHECK(cost_usd(p, TokenCounts{5000, 0, 5000}, 3600, utc(kDay, 12, 0)) ==
        doctest::Approx(0.042).epsilon(kEps));
  CHECK(cost_usd(p, TokenCounts{}, 0, utc(kDay, 12, 0)) == 0.0);

  p.energy->amortisation_usd_per_hour = 0.5;
  CHECK(cost_usd(p, TokenCounts{}, 1800, utc(kDay, 12, 0)) == doctest::Approx(0.021 + 0.25).epsilon(kEps));
}

TEST_CASE("cost: components add up when several are set") {
  Pricing p = two_tables();
  p.energy = Energy{350, 0.12, 0};
  CHECK(cost_usd(p, kMillionMisses, 3600, utc(kDay, 12, 0)) == doctest::Approx(0.28 + 0.042).epsilon(kEps));
  p.gpu_hourly = GpuHourly{2.0, 1000, {}, 0};
  CHECK(cost_usd(p, kMillionMisses, 3600, utc(kDay, 12, 0)) ==
        doctest::Approx(0.28 + 0.042 + 2.0 * 1000.0 / 3600.0).epsilon(kEps));
}

TEST_CASE("cost: free means no component can charge anything") {
  Pricing p;
  CHECK(p.free());
  p.token_prices.push_back(TokenPrice{sys_days(year(2025) / January / 1), 0, 0, 0, {}});
  p.energy = Energy{350, 0, 0};
  p.gpu_hourly = GpuHourly{0, 1000, {}, 0};
  CHECK(p.free());
  CHECK(cost_usd(p, kMillionMisses, 3600, utc(kDay, 12, 0)) == 0.0);

  Pricing with_output = p;
  with_output.token_prices[0].output = 0.1;
  CHECK_FALSE(with_output.free());
  Pricing with_energy = p;
  with_energy.energy->usd_per_kwh = 0.12;
  CHECK_FALSE(with_energy.free());
  Pricing with_amortisation = p;
  with_amortisation.energy->amortisation_usd_per_hour = 0.1;
  CHECK_FALSE(with_amortisation.free());
  Pricing with_gpu = p;
  with_gpu.gpu_hourly->usd_per_hour = 1;
  CHECK_FALSE(with_gpu.free());
  CHECK_FALSE(two_tables().free());
}
