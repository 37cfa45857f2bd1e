#include "common/utc_time.h"

#include <cstdio>

namespace dsgw {
namespace {

std::optional<std::chrono::sys_days> make_day(int y, unsigned m, unsigned d) {
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(m), std::chrono::day(d)};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days(ymd);
}

}  // namespace

std::optional<std::chrono::sys_days> parse_utc_date(const std::string& text) {
  int y = 0;
  unsigned m = 0, d = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%4d-%2u-%2u%c", &y, &m, &d, &tail) != 3) return std::nullopt;
  return make_day(y, m, d);
}

std::optional<std::chrono::system_clock::time_point> parse_utc_time(const std::string& text) {
  int y = 0;
  unsigned mo = 0, d = 0;
  int h = 0, mi = 0, s = 0;
  char z = 0, tail = 0;
  if (std::sscanf(text.c_str(), "%4d-%2u-%2uT%2d:%2d:%2d%c%c", &y, &mo, &d, &h, &mi, &s, &z, &tail) != 7 ||
      z != 'Z' || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59) {
    return std::nullopt;
  }
  const auto day = make_day(y, mo, d);
  if (!day) return std::nullopt;
  return *day + std::chrono::hours(h) + std::chrono::minutes(mi) + std::chrono::seconds(s);
}

}  // namespace dsgw
