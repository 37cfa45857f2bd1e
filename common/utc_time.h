// Dates and times as operators write them in TOML files, in UTC.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace dsgw {

// "YYYY-MM-DD", a real calendar day.
std::optional<std::chrono::sys_days> parse_utc_date(const std::string& text);

// "YYYY-MM-DDThh:mm:ssZ".
std::optional<std::chrono::system_clock::time_point> parse_utc_time(const std::string& text);

}  // namespace dsgw
