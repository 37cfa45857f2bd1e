#include "backends/local/model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace dsgw::local {
namespace {

using json = nlohmann::json;

// The reference implementation refuses headers over 100 MB; so do we.
constexpr std::uint64_t kMaxHeaderBytes = 100u << 20;

Error file_error(const std::filesystem::path& path, const std::string& what) {
  return make_error(ErrorCode::kUnavailable, path.string() + ": " + what);
}

Error tensor_error(const std::filesystem::path& path, const std::string& tensor, const std::string& what) {
  return make_error(ErrorCode::kUnavailable, path.string() + ": tensor '" + tensor + "': " + what);
}

struct DTypeName {
  const char* name;
  StDType dtype;
  std::size_t size;
};
constexpr DTypeName kDTypes[] = {
    {"BOOL", StDType::kBool, 1}, {"U8", StDType::kU8, 1},          {"I8", StDType::kI8, 1},
    {"I16", StDType::kI16, 2},   {"U16", StDType::kU16, 2},        {"F16", StDType::kF16, 2},
    {"BF16", StDType::kBF16, 2}, {"I32", StDType::kI32, 4},        {"U32", StDType::kU32, 4},
    {"F32", StDType::kF32, 4},   {"F64", StDType::kF64, 8},        {"I64", StDType::kI64, 8},
    {"U64", StDType::kU64, 8},   {"F8_E4M3", StDType::kF8E4M3, 1}, {"F8_E5M2", StDType::kF8E5M2, 1},
};

bool parse_dtype_name(const std::string& s, StDType* out) {
  for (const auto& d : kDTypes) {
    if (s == d.name) {
      *out = d.dtype;
      return true;
    }
  }
  return false;
}

// A relative path inside the model directory: no absolute paths, no "..".
bool is_safe_relative(const std::string& name) {
  if (name.empty()) return false;
  std::filesystem::path p(name);
  if (p.is_absolute() || p.has_root_name()) return false;
  for (const auto& part : p) {
    if (part == "..") return false;
  }
  return true;
}

}  // namespace

std::size_t element_size(StDType dtype) {
  for (const auto& d : kDTypes) {
    if (d.dtype == dtype) return d.size;
  }
  return 0;
}

const char* st_dtype_name(StDType dtype) {
  for (const auto& d : kDTypes) {
    if (d.dtype == dtype) return d.name;
  }
  return "?";
}

std::int64_t TensorInfo::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

// ---- MappedFile ----

Result<std::shared_ptr<const MappedFile>> MappedFile::open(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return make_error(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kUnavailable,
                      path.string() + ": cannot open: " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return file_error(path, std::string("cannot stat: ") + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return file_error(path, "not a regular file");
  }
  auto size = static_cast<std::size_t>(st.st_size);
  const std::byte* data = nullptr;
  if (size > 0) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return file_error(path, std::string("cannot mmap: ") + std::strerror(err));
    }
    data = static_cast<const std::byte*>(p);
    // 2 MB pages (see huge_page_bytes); best effort: EINVAL without THP.
    ::madvise(p, size, MADV_HUGEPAGE);
  }
  ::close(fd);  // the mapping stays valid
  return std::shared_ptr<const MappedFile>(new MappedFile(path, data, size));
}

void MappedFile::prefault() const {
#ifdef MADV_POPULATE_READ
  // Best effort: EINVAL from kernels before 5.14, which fault on first use.
  if (data_ != nullptr) ::madvise(const_cast<std::byte*>(data_), size_, MADV_POPULATE_READ);
#endif
}

std::optional<std::size_t> MappedFile::huge_page_bytes(std::span<const MappedFile* const> files) {
  std::set<std::uintptr_t> starts;
  for (const MappedFile* f : files) {
    if (f->data_ != nullptr) starts.insert(reinterpret_cast<std::uintptr_t>(f->data_));
  }
  // An entry starts "<start>-<end> ...", its fields ("Name: value kB") follow
  // until the next entry.
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  std::size_t bytes = 0, found = 0;
  bool ours = false;
  while (std::getline(smaps, line)) {
    char* end = nullptr;
    const std::uintptr_t start = std::strtoull(line.c_str(), &end, 16);
    if (*end == '-') {
      ours = starts.count(start) != 0;
      found += ours ? 1 : 0;
    } else if (ours && line.rfind("FilePmdMapped:", 0) == 0) {
      bytes += static_cast<std::size_t>(std::strtoull(line.c_str() + 14, nullptr, 10)) * 1024;
    }
  }
  if (found != starts.size()) return std::nullopt;
  return bytes;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
}

// ---- SafetensorsFile ----

Result<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  auto file = MappedFile::open(path);
  if (!file) return file.error();
  return parse(std::move(file).value());
}

Result<SafetensorsFile> SafetensorsFile::parse(std::shared_ptr<const MappedFile> file) {
  const auto& path = file->path();
  if (file->size() < 8) {
    return file_error(path, "truncated: " + std::to_string(file->size()) +
                                " bytes, too short for the 8-byte header length");
  }
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) {
    header_len = (header_len << 8) | static_cast<std::uint8_t>(file->data()[i]);
  }
  if (header_len > kMaxHeaderBytes) {
    return file_error(
        path, "corrupt header: header length " + std::to_string(header_len) + " exceeds the 100 MB limit");
  }
  if (header_len > file->size() - 8) {
    return file_error(path, "corrupt header: header length " + std::to_string(header_len) +
                                " runs past the end of the file (" + std::to_string(file->size()) +
                                " bytes)");
  }
  const char* header_begin = reinterpret_cast<const char*>(file->data() + 8);
  json header;
  try {
    header = json::parse(header_begin, header_begin + header_len);
  } catch (const json::exception& e) {
    return file_error(path, std::string("corrupt header: invalid JSON: ") + e.what());
  }
  if (!header.is_object()) return file_error(path, "corrupt header: not a JSON object");

  const std::byte* data_begin = file->data() + 8 + header_len;
  const std::uint64_t data_size = file->size() - 8 - header_len;

  SafetensorsFile out;
  out.file_ = file;
  struct Span {
    std::uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) return file_error(path, "corrupt header: __metadata__ is not an object");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) return file_error(path, "corrupt header: __metadata__." + k + " is not a string");
        out.metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    if (!entry.is_object()) return tensor_error(path, name, "corrupt header: entry is not an object");
    auto dt = entry.find("dtype");
    auto sh = entry.find("shape");
    auto off = entry.find("data_offsets");
    if (dt == entry.end() || !dt->is_string())
      return tensor_error(path, name, "corrupt header: missing dtype");
    if (sh == entry.end() || !sh->is_array())
      return tensor_error(path, name, "corrupt header: missing shape");
    if (off == entry.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned()) {
      return tensor_error(path, name, "corrupt header: data_offsets must be two non-negative integers");
    }
    TensorInfo info;
    info.name = name;
    if (!parse_dtype_name(dt->get<std::string>(), &info.dtype)) {
      return tensor_error(path, name, "corrupt header: unknown dtype '" + dt->get<std::string>() + "'");
    }
    std::uint64_t numel = 1;
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned())
        return tensor_error(path, name, "corrupt header: shape must hold non-negative integers");
      auto v = d.get<std::uint64_t>();
      if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
          (v != 0 && numel > std::numeric_limits<std::uint64_t>::max() / 16 / v)) {
        return tensor_error(path, name, "corrupt header: shape too large");
      }
      numel *= v;
      info.shape.push_back(static_cast<std::int64_t>(v));
    }
    auto begin = (*off)[0].get<std::uint64_t>();
    auto end = (*off)[1].get<std::uint64_t>();
    if (end < begin) {
      return tensor_error(path, name,
                          "corrupt header: data_offsets [" + std::to_string(begin) + ", " +
                              std::to_string(end) + ") end before they begin");
    }
    if (end - begin != numel * element_size(info.dtype)) {
      return tensor_error(path, name,
                          "corrupt header: data_offsets span " + std::to_string(end - begin) +
                              " bytes but dtype and shape need " +
                              std::to_string(numel * element_size(info.dtype)));
    }
    if (end > data_size) {
      return tensor_error(path, name,
                          "truncated file: data_offsets end at byte " + std::to_string(end) +
                              " of the data but the file holds only " + std::to_string(data_size) +
                              " bytes of data");
    }
    info.data = data_begin + begin;
    info.nbytes = end - begin;
    info.file = file;
    spans.push_back({begin, end, name});
    out.tensors_.emplace(name, std::move(info));
  }
  // The tensors must tile the data area: sorted by offset, each starts where
  // the previous one ended (no overlap, no gap), the first at 0.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t expected = 0;
  for (std::size_t i = 0; i < spans.size(); ++i) {
    const auto& s = spans[i];
    if (s.begin < expected) {
      return tensor_error(path, s.name,
                          "corrupt header: data_offsets [" + std::to_string(s.begin) + ", " +
                              std::to_string(s.end) + ") overlap tensor '" + spans[i - 1].name + "'");
    }
    if (s.begin > expected) {
      return tensor_error(path, s.name,
                          "corrupt header: data_offsets begin at " + std::to_string(s.begin) +
                              ", leaving a gap after byte " + std::to_string(expected));
    }
    expected = s.end;
  }
  return out;
}

// ---- TensorStore ----

Result<TensorStore> TensorStore::open(const std::filesystem::path& dir) {
  TensorStore store;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return make_error(ErrorCode::kNotFound, dir.string() + ": not a model directory");
  }
  const auto single = dir / kSingleFile;
  const auto index = dir / kIndexFile;
  if (std::filesystem::exists(single, ec)) {
    auto f = SafetensorsFile::open(single);
    if (!f) return f.error();
    store.tensors_ = f->tensors();
    store.files_.push_back(kSingleFile);
    store.source_ = single.string();
    return store;
  }
  if (!std::filesystem::exists(index, ec)) {
    return make_error(ErrorCode::kNotFound, dir.string() + ": no " + kSingleFile + " and no " + kIndexFile);
  }
  store.source_ = index.string();
  json doc;
  {
    std::ifstream in(index, std::ios::binary);
    if (!in) return file_error(index, "cannot read");
    std::stringstream buf;
    buf << in.rdbuf();
    try {
      doc = json::parse(buf.str());
    } catch (const json::exception& e) {
      return file_error(index, std::string("invalid JSON: ") + e.what());
    }
  }
  auto wm = doc.is_object() ? doc.find("weight_map") : doc.end();
  if (!doc.is_object() || wm == doc.end() || !wm->is_object()) {
    return file_error(index, "no weight_map object");
  }
  std::map<std::string, SafetensorsFile> opened;
  for (const auto& [tensor, file_json] : wm->items()) {
    if (!file_json.is_string())
      return file_error(index, "weight_map entry for tensor '" + tensor + "' is not a string");
    auto file_name = file_json.get<std::string>();
    if (!is_safe_relative(file_name)) {
      return file_error(index, "weight_map sends tensor '" + tensor + "' to '" + file_name +
                                   "', which is not a file inside the model directory");
    }
    auto it = opened.find(file_name);
    if (it == opened.end()) {
      auto f = SafetensorsFile::open(dir / file_name);
      if (!f) {
        Error e = f.error();
        e.message += " (holds tensor '" + tensor + "' per " + std::string(kIndexFile) + ")";
        return e;
      }
      it = opened.emplace(file_name, std::move(f).value()).first;
      store.files_.push_back(file_name);
    }
    auto t = it->second.tensors().find(tensor);
    if (t == it->second.tensors().end()) {
      return tensor_error(
          dir / file_name, tensor,
          std::string("missing: ") + kIndexFile + " lists it in this file but the file has no such tensor");
    }
    store.tensors_.emplace(tensor, t->second);
  }
  return store;
}

const TensorInfo* TensorStore::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

}  // namespace dsgw::local
