// Helpers for the model tests: the fixture directory (written at test time by
// make_fixtures.py), reference JSON, temp dirs, and a tiny safetensors writer
// for building broken files.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace dsgw::local::testing {

namespace fs = std::filesystem;

inline fs::path fixtures_dir() { return fs::path(DSGW_MODEL_FIXTURES); }
inline fs::path fixture(const std::string& name) { return fixtures_dir() / name; }

struct ReferencePrompt {
  std::vector<std::int32_t> tokens;
  std::vector<std::vector<float>> logits;  // per position
  std::vector<std::int32_t> greedy;
};

inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

inline std::vector<ReferencePrompt> load_reference(const std::string& name) {
  auto doc = nlohmann::json::parse(read_text(fixtures_dir() / (name + ".ref.json")));
  std::vector<ReferencePrompt> out;
  for (const auto& p : doc["prompts"]) {
    ReferencePrompt r;
    r.tokens = p["tokens"].get<std::vector<std::int32_t>>();
    for (const auto& row : p["logits"]) r.logits.push_back(row.get<std::vector<float>>());
    if (p.contains("greedy")) r.greedy = p["greedy"].get<std::vector<std::int32_t>>();
    out.push_back(std::move(r));
  }
  return out;
}

// max |a - b| / max |b|.
template <class A, class B>
double relative_error(const A& a, const B& b) {
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

template <class A>
std::int32_t argmax(const A& v) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (v[i] > v[best]) best = i;
  }
  return static_cast<std::int32_t>(best);
}

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("dsgw_model_test_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

// Copies a fixture model into `dir` (files only).
inline void copy_model(const std::string& name, const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(fixture(name)))
    fs::copy_file(e.path(), dir / e.path().filename());
}

// Raw safetensors file contents: header JSON and data.
struct RawSafetensors {
  nlohmann::json header;  // without "__metadata__" handling: kept as is
  std::string data;

  static RawSafetensors read(const fs::path& path) {
    std::string bytes = read_text(path);
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i)
      n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
    RawSafetensors r;
    r.header = nlohmann::json::parse(bytes.substr(8, n));
    r.data = bytes.substr(8 + n);
    return r;
  }

  // The bytes of one tensor.
  std::string tensor_bytes(const std::string& name) const {
    auto off = header[name]["data_offsets"];
    auto b = off[0].get<std::size_t>(), e = off[1].get<std::size_t>();
    return data.substr(b, e - b);
  }

  static std::string encode(const std::string& header_json, const std::string& data) {
    std::string out(8, '\0');
    std::uint64_t n = header_json.size();
    for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
    return out + header_json + data;
  }

  void write(const fs::path& path) const { write_text(path, encode(header.dump(), data)); }
};

// Rebuilds a file from a list of tensors (name, dtype, shape, bytes), with
// consistent offsets: for dropping or reshaping tensors.
struct TensorBlob {
  std::string name, dtype;
  std::vector<std::int64_t> shape;
  std::string bytes;
};

inline std::vector<TensorBlob> tensors_of(const RawSafetensors& raw) {
  std::vector<TensorBlob> out;
  for (const auto& [name, v] : raw.header.items()) {
    if (name == "__metadata__") continue;
    out.push_back({name, v["dtype"].get<std::string>(), v["shape"].get<std::vector<std::int64_t>>(),
                   raw.tensor_bytes(name)});
  }
  return out;
}

inline void write_tensors(const fs::path& path, const std::vector<TensorBlob>& tensors) {
  RawSafetensors raw;
  raw.header = nlohmann::json::object();
  std::size_t offset = 0;
  for (const auto& t : tensors) {
    raw.header[t.name] = {
        {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
    raw.data += t.bytes;
  }
  raw.write(path);
}

}  // namespace dsgw::local::testing
