// safetensors files, memory-mapped read-only, and the set of them that makes
// up a model directory (one model.safetensors, or shards listed by
// model.safetensors.index.json). Parsing only: no libtorch here.
//
// Format: 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype", "shape", "data_offsets": [begin, end)}, "__metadata__": {...}},
// then the data; offsets are relative to the end of the header. Like the
// reference implementation we require the tensors to tile the data area
// without gaps or overlaps, and every error names the file and the tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace dsgw::local {

// Element types a safetensors header may name.
enum class StDType {
  kBool,
  kU8,
  kI8,
  kI16,
  kU16,
  kF16,
  kBF16,
  kI32,
  kU32,
  kF32,
  kF64,
  kI64,
  kU64,
  kF8E4M3,
  kF8E5M2
};

std::size_t element_size(StDType dtype);
const char* st_dtype_name(StDType dtype);  // as spelled in the header: "BF16", ...

// A read-only private mapping of a whole file; unmapped when the last owner goes.
class MappedFile {
 public:
  static Result<std::shared_ptr<const MappedFile>> open(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

  // Faults the whole mapping in now (MADV_POPULATE_READ, as llama.cpp's
  // MAP_POPULATE), rather than page by page on first use. Best effort.
  void prefault() const;

  // Bytes of these mappings on 2 MB pages (FilePmdMapped in /proc/self/smaps,
  // read once; nullopt where that cannot be read or lacks one of them).
  // Pages not yet faulted in do not count. The kernel maps a file with 2 MB pages
  // where its page cache holds 2 MB folios: with large-folio filesystems (xfs
  // on Linux 5.18+, ext4 on 6.16+) when the file was read into the cache, but
  // not while it is still cached from being written (downloaded or copied).
  // Decode ran up to 1.5x faster on 2 MB pages (bench/RESULTS.md).
  static std::optional<std::size_t> huge_page_bytes(std::span<const MappedFile* const> files);

 private:
  MappedFile(std::filesystem::path path, const std::byte* data, std::size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::filesystem::path path_;
  const std::byte* data_;
  std::size_t size_;
};

struct TensorInfo {
  std::string name;
  StDType dtype = StDType::kF32;
  std::vector<std::int64_t> shape;
  const std::byte* data = nullptr;  // inside file->data()
  std::size_t nbytes = 0;
  std::shared_ptr<const MappedFile> file;  // keeps the mapping alive

  std::int64_t numel() const;
  std::string file_name() const { return file->path().filename().string(); }
};

// One parsed .safetensors file.
class SafetensorsFile {
 public:
  static Result<SafetensorsFile> open(const std::filesystem::path& path);
  // Parses the header of an already mapped file (exposed for tests).
  static Result<SafetensorsFile> parse(std::shared_ptr<const MappedFile> file);

  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::shared_ptr<const MappedFile>& file() const { return file_; }

 private:
  std::shared_ptr<const MappedFile> file_;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// All tensors of a model directory, resolved through the index when sharded.
class TensorStore {
 public:
  static constexpr const char* kSingleFile = "model.safetensors";
  static constexpr const char* kIndexFile = "model.safetensors.index.json";

  // model.safetensors if present (as transformers does), else the index.
  static Result<TensorStore> open(const std::filesystem::path& dir);

  // nullptr when absent.
  const TensorInfo* find(const std::string& name) const;
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  // Data files in use, relative to the directory.
  const std::vector<std::string>& files() const { return files_; }
  // DIR/model.safetensors or DIR/model.safetensors.index.json: where names resolve.
  const std::string& source() const { return source_; }

 private:
  std::map<std::string, TensorInfo> tensors_;
  std::vector<std::string> files_;
  std::string source_;
};

}  // namespace dsgw::local
