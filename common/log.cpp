#include "common/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "common/json_escape.h"

namespace dsgw::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::mutex g_write_mutex;

const char* level_name(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

void append_timestamp(std::string& out) {
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  out.append(buf);
}

}  // namespace

void set_level(Level level) { g_level.store(static_cast<int>(level)); }

bool enabled(Level level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

bool parse_level(std::string_view text, Level* out) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (text == level_name(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

Line::Line(Level level, std::string_view event) : on_(enabled(level)) {
  if (!on_) return;
  text_.reserve(256);
  text_.append("{\"ts\":");
  append_timestamp(text_);
  text_.append(",\"level\":\"");
  text_.append(level_name(level));
  text_.append("\",\"event\":");
  append_json_string(text_, event);
}

Line::~Line() {
  if (!on_) return;
  text_.append("}\n");
  std::lock_guard lock(g_write_mutex);
  std::fwrite(text_.data(), 1, text_.size(), stderr);
  std::fflush(stderr);
}

void Line::key(std::string_view key) {
  text_.push_back(',');
  append_json_string(text_, key);
  text_.push_back(':');
}

Line& Line::kv(std::string_view k, std::string_view value) {
  if (!on_) return *this;
  key(k);
  append_json_string(text_, value);
  return *this;
}

Line& Line::kv(std::string_view k, int64_t value) {
  if (!on_) return *this;
  key(k);
  text_.append(std::to_string(value));
  return *this;
}

Line& Line::kv(std::string_view k, double value) {
  if (!on_) return *this;
  key(k);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  text_.append(buf);
  return *this;
}

Line& Line::kv(std::string_view k, bool value) {
  if (!on_) return *this;
  key(k);
  text_.append(value ? "true" : "false");
  return *this;
}

}  // namespace dsgw::log
