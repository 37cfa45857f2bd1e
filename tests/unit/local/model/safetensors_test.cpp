#include "backends/local/model/safetensors.h"

#include <doctest/doctest.h>

#include <cstring>

#include "tests/unit/local/model/model_test_support.h"

namespace dsgw::local {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::string f32_bytes(std::initializer_list<float> values) {
  std::string out(values.size() * 4, '\0');
  std::memcpy(out.data(), std::data(values), out.size());
  return out;
}

Result<SafetensorsFile> parse_text(const TempDir& dir, const std::string& header, const std::string& data) {
  testing::write_text(dir / "t.safetensors", testing::RawSafetensors::encode(header, data));
  return SafetensorsFile::open(dir / "t.safetensors");
}

template <class T>
std::string error_of(const Result<T>& r) {
  REQUIRE_FALSE(r.has_value());
  return r.error().message;
}

TEST_CASE("parses dtype, shape, offsets and metadata; data points into the mapping") {
  TempDir dir;
  auto f =
      parse_text(dir,
                 R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
                 R"("a":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]},"__metadata__":{"format":"pt"}})",
                 f32_bytes({1, 2, 3, 4}));
  REQUIRE(f.has_value());
  REQUIRE(f->tensors().size() == 2);
  const auto& a = f->tensors().at("a");
  const auto& b = f->tensors().at("b");
  CHECK(a.dtype == StDType::kBF16);
  CHECK(a.shape == std::vector<std::int64_t>{2, 2});
  CHECK(a.nbytes == 8);
  CHECK(b.numel() == 2);
  float v[2];
  std::memcpy(v, b.data, 8);
  CHECK(v[0] == 3.0f);
  CHECK(v[1] == 4.0f);
  CHECK(b.data >= f->file()->data());
  CHECK(b.data + b.nbytes <= f->file()->data() + f->file()->size());
  CHECK(f->metadata().at("format") == "pt");
  CHECK(b.file_name() == "t.safetensors");
}

TEST_CASE("scalars and empty tensors") {
  TempDir dir;
  auto f = parse_text(dir,
                      R"({"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
                      R"("e":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]}})",
                      f32_bytes({7}));
  REQUIRE(f.has_value());
  CHECK(f->tensors().at("s").numel() == 1);
  CHECK(f->tensors().at("e").numel() == 0);
}

TEST_CASE("rejects malformed files with the file and tensor named") {
  TempDir dir;
  const auto data = f32_bytes({1, 2, 3, 4});
  CHECK(error_of(parse_text(dir,
                            R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                            R"("y":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
                            data + data))
            .find("'y'") != std::string::npos);  // gap
  CHECK(error_of(parse_text(dir,
                            R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                            R"("y":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                            data))
            .find("overlap") != std::string::npos);
  CHECK(error_of(parse_text(dir, R"({"x":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})", data))
            .find("truncated") != std::string::npos);
  CHECK(error_of(parse_text(dir, R"({"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,16]}})", data))
            .find("'x'") != std::string::npos);
  CHECK(error_of(parse_text(dir, R"({"x":{"dtype":"F32","shape":[4]}})", data)).find("data_offsets") !=
        std::string::npos);
  CHECK(error_of(parse_text(dir, R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,"16"]}})", data))
            .find("data_offsets") != std::string::npos);
  CHECK(error_of(parse_text(dir, R"({"x":{"shape":[4],"data_offsets":[0,16]}})", data)).find("dtype") !=
        std::string::npos);
  CHECK(error_of(parse_text(dir, R"([1,2])", data)).find("t.safetensors") != std::string::npos);
  CHECK(error_of(parse_text(dir, R"({"__metadata__":{"a":1}})", "")).find("__metadata__") !=
        std::string::npos);
  CHECK(error_of(parse_text(dir,
                            R"({"x":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],)"
                            R"("data_offsets":[0,16]}})",
                            data))
            .find("too large") != std::string::npos);

  // Header length beyond the file, and beyond the 100 MB cap.
  std::string bytes = testing::RawSafetensors::encode("{}", "");
  bytes[0] = 100;
  testing::write_text(dir / "t.safetensors", bytes);
  CHECK(error_of(SafetensorsFile::open(dir / "t.safetensors")).find("header length") != std::string::npos);
  bytes[0] = 0;
  bytes[4] = 1;  // 2^32
  testing::write_text(dir / "t.safetensors", bytes);
  CHECK(error_of(SafetensorsFile::open(dir / "t.safetensors")).find("100 MB") != std::string::npos);
  testing::write_text(dir / "t.safetensors", "abc");
  CHECK(error_of(SafetensorsFile::open(dir / "t.safetensors")).find("truncated") != std::string::npos);
  testing::write_text(dir / "t.safetensors", "");
  CHECK(error_of(SafetensorsFile::open(dir / "t.safetensors")).find("truncated") != std::string::npos);
  auto missing = SafetensorsFile::open(dir / "nope.safetensors");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(missing.error().message.find("nope.safetensors") != std::string::npos);
  CHECK_FALSE(SafetensorsFile::open(dir.path()).has_value());  // a directory
}

TEST_CASE("a mapped file says how much of it the kernel maps with 2 MB pages") {
  TempDir dir;
  constexpr std::size_t kSize = std::size_t{6} << 20;
  testing::write_text(dir / "big.bin", std::string(kSize, 'w'));
  auto file = MappedFile::open(dir / "big.bin");
  REQUIRE(file.has_value());
  (*file)->prefault();
  CHECK(static_cast<char>((*file)->data()[kSize - 1]) == 'w');
  // Found in /proc/self/smaps; how much depends on the kernel, its THP
  // setting and the filesystem, but it is whole 2 MB pages of the file.
  const MappedFile* files[] = {file->get()};
  const auto huge = MappedFile::huge_page_bytes(files);
  REQUIRE(huge.has_value());
  CHECK(*huge <= kSize);
  CHECK(*huge % (std::size_t{2} << 20) == 0);
}

TEST_CASE("TensorStore prefers model.safetensors and resolves shards through the index only") {
  TempDir dir;
  const auto one = f32_bytes({1, 2});
  testing::write_text(dir / "a.st", testing::RawSafetensors::encode(
                                        R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", one));
  testing::write_text(dir / "b.st", testing::RawSafetensors::encode(
                                        R"({"y":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                        R"("unused":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                                        one + one));
  // A stray file that matches no pattern we'd use and must not be opened.
  testing::write_text(dir / "model-00003-of-00002.safetensors", "garbage");
  testing::write_text(dir / TensorStore::kIndexFile,
                      R"({"metadata":{},"weight_map":{"x":"a.st","y":"b.st"}})");
  auto store = TensorStore::open(dir.path());
  REQUIRE_MESSAGE(store.has_value(), (store.has_value() ? "" : store.error().message));
  CHECK(store->source() == (dir / TensorStore::kIndexFile).string());
  CHECK(store->tensors().size() == 2);  // "unused" is not in the index
  REQUIRE(store->find("y") != nullptr);
  CHECK(store->find("y")->file_name() == "b.st");
  CHECK(store->find("unused") == nullptr);
  CHECK(store->files() == std::vector<std::string>{"a.st", "b.st"});

  testing::write_text(dir / TensorStore::kIndexFile, R"({"weight_map":{"x":7}})");
  CHECK_FALSE(TensorStore::open(dir.path()).has_value());
  testing::write_text(dir / TensorStore::kIndexFile, R"({"metadata":{}})");
  CHECK(error_of(TensorStore::open(dir.path())).find("weight_map") != std::string::npos);
  testing::write_text(dir / TensorStore::kIndexFile, R"({"weight_map":{"x":"/etc/passwd"}})");
  CHECK(error_of(TensorStore::open(dir.path())).find("'x'") != std::string::npos);

  testing::write_text(
      dir / TensorStore::kSingleFile,
      testing::RawSafetensors::encode(R"({"z":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", one));
  store = TensorStore::open(dir.path());
  REQUIRE(store.has_value());
  CHECK(store->source() == (dir / TensorStore::kSingleFile).string());
  CHECK(store->find("z") != nullptr);
}

}  // namespace
}  // namespace dsgw::local
