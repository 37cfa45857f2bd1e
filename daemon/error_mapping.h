// The one place where an ErrorCode becomes a wire error.
#pragma once

#include <string>

#include "common/status.h"

namespace dsgw::daemon {

struct WireError {
  int http_status;
  const char* type;  // OpenAI's error.type
  const char* code;  // OpenAI's error.code (Error::subcode overrides it)
};

WireError wire_error(ErrorCode code);

// {"error":{"message","type","param","code"}} for `error`.
std::string error_body(const Error& error);

}  // namespace dsgw::daemon
