#include "common/utc_time.h"

#include <doctest/doctest.h>

using dsgw::parse_utc_date;
using dsgw::parse_utc_time;
using namespace std::chrono;

TEST_CASE("parse_utc_date reads real calendar days only") {
  CHECK(parse_utc_date("2024-02-29") == sys_days{year(2024) / 2 / 29});
  CHECK_FALSE(parse_utc_date("2023-02-29"));  // not a leap year
  CHECK_FALSE(parse_utc_date("2024-13-01"));
  CHECK_FALSE(parse_utc_date("2024-01-01x"));
  CHECK_FALSE(parse_utc_date("yesterday"));
  CHECK_FALSE(parse_utc_date(""));
}

TEST_CASE("parse_utc_time reads YYYY-MM-DDThh:mm:ssZ") {
  CHECK(parse_utc_time("2024-05-20T23:59:58Z") ==
        sys_days{year(2024) / 5 / 20} + hours(23) + minutes(59) + seconds(58));
  CHECK_FALSE(parse_utc_time("2024-05-20T23:59:58"));   // no zone
  CHECK_FALSE(parse_utc_time("2024-05-20T23:59:58+01"));  // not UTC
  CHECK_FALSE(parse_utc_time("2024-05-20T24:00:00Z"));
  CHECK_FALSE(parse_utc_time("2024-02-30T00:00:00Z"));
  CHECK_FALSE(parse_utc_time("2024-05-20T10:00:00Zz"));
  CHECK_FALSE(parse_utc_time("2024-05-20"));
}
