// SHA-384 (FIPS 180-4, the SHA-512 compression with its own IV, output cut to
// 48 bytes). Our own small implementation: the engine links libtorch and
// header-only code only, not libcrypto.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dsgw::local {

class Sha384 {
 public:
  Sha384();
  void update(const void* data, std::size_t size);
  // Finishes the hash; the object must not be updated afterwards.
  std::array<std::uint8_t, 48> finish();
  std::string finish_hex();

 private:
  void compress(const std::uint8_t* block);

  std::array<std::uint64_t, 8> h_;
  std::array<std::uint8_t, 128> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;  // 2^64 bytes is plenty
};

// Lower-case hex digest of `data`.
std::string sha384_hex(std::string_view data);

}  // namespace dsgw::local
