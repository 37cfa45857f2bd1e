// Structured logs: one JSON object per line on stderr (journald keeps them).
//
//   log::info("request.done").kv("request_id", id).kv("backend", name);
//
// The line is written when the builder goes out of scope, at the end of the
// full expression. Never pass secrets or prompt text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dsgw::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_level(Level level);
bool enabled(Level level);
// Parses "debug" | "info" | "warn" | "error".
bool parse_level(std::string_view text, Level* out);

class Line {
 public:
  Line(Level level, std::string_view event);
  ~Line();
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;

  Line& kv(std::string_view key, std::string_view value);
  Line& kv(std::string_view key, const char* value) { return kv(key, std::string_view(value)); }
  Line& kv(std::string_view key, const std::string& value) { return kv(key, std::string_view(value)); }
  Line& kv(std::string_view key, int64_t value);
  Line& kv(std::string_view key, int value) { return kv(key, static_cast<int64_t>(value)); }
  Line& kv(std::string_view key, size_t value) { return kv(key, static_cast<int64_t>(value)); }
  Line& kv(std::string_view key, double value);
  Line& kv(std::string_view key, bool value);

 private:
  void key(std::string_view key);
  bool on_;
  std::string text_;
};

inline Line debug(std::string_view event) { return Line(Level::kDebug, event); }
inline Line info(std::string_view event) { return Line(Level::kInfo, event); }
inline Line warn(std::string_view event) { return Line(Level::kWarn, event); }
inline Line error(std::string_view event) { return Line(Level::kError, event); }

}  // namespace dsgw::log
