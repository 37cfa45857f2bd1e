#pragma once

#include <string>

namespace dsgw {

// A fresh random request id: 24 lower-case hex digits. Thread-safe.
std::string new_request_id();

}  // namespace dsgw
