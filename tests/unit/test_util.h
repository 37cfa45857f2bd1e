// Small helpers shared by the gateway unit tests.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace dsgw::test {

// A fresh directory under the system temp dir, removed with its contents.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("dsgw-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
             std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string path(const std::string& name) const { return (path_ / name).string(); }

  // Writes `text` to `name` inside the directory; returns the full path.
  std::string write(const std::string& name, std::string_view text) const {
    const std::string p = path(name);
    std::ofstream out(p, std::ios::binary);
    out << text;
    return p;
  }

 private:
  std::filesystem::path path_;
};

// Polls `condition` until it holds or `timeout` passes; returns whether it held.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

inline bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// The lines of `text`, without their '\n'.
inline std::vector<std::string> lines(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      if (start < text.size()) out.emplace_back(text.substr(start));
      break;
    }
    out.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

// The lines of a config loader's error message, with the file path `path`
// shown as "F" so that tests can compare "F:line:col: key: what".
inline std::vector<std::string> diagnostics_as_f(std::string_view message, const std::string& path) {
  std::vector<std::string> out;
  for (auto& line : lines(message)) {
    if (line.rfind(path, 0) == 0) {
      std::string shown("F");
      shown.append(line, path.size());
      line = std::move(shown);
    }
    out.push_back(line);
  }
  return out;
}

// Whether `line` has the shape F:line:column: key.path: what.
inline bool well_formed_diagnostic(const std::string& line) {
  static const std::regex re(R"(^F:[1-9][0-9]*:[1-9][0-9]*: [A-Za-z_][A-Za-z0-9_.\[\]]*: .+$)");
  return std::regex_match(line, re);
}

}  // namespace dsgw::test
