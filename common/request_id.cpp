#include "common/request_id.h"

#include <random>

namespace dsgw {

std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(24, '0');
  uint64_t bits = rng();
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == 16) bits = rng();
    id[i] = kHex[bits & 0xF];
    bits >>= 4;
  }
  return id;
}

}  // namespace dsgw
