#include "daemon/error_mapping.h"

#include <nlohmann/json.hpp>

namespace dsgw::daemon {

WireError wire_error(ErrorCode code) {
  const char* name = error_code_name(code);
  switch (code) {
    case ErrorCode::kInvalidRequest: return {400, "invalid_request_error", name};
    case ErrorCode::kUnauthenticated: return {401, "authentication_error", name};
    case ErrorCode::kNotFound: return {404, "invalid_request_error", name};
    case ErrorCode::kPayloadTooLarge: return {413, "invalid_request_error", name};
    case ErrorCode::kUnprocessable: return {422, "invalid_request_error", name};
    case ErrorCode::kContextLengthExceeded: return {400, "invalid_request_error", name};
    case ErrorCode::kOverloaded: return {429, "rate_limit_error", name};
    case ErrorCode::kUpstreamRateLimited: return {429, "rate_limit_error", name};
    case ErrorCode::kUpstreamError: return {502, "api_error", name};
    case ErrorCode::kUnavailable: return {503, "api_error", name};
    case ErrorCode::kTimeout: return {504, "api_error", name};
    case ErrorCode::kCancelled: return {499, "api_error", name};
    case ErrorCode::kInternal: return {500, "api_error", name};
  }
  return {500, "api_error", name};
}

std::string error_body(const Error& error) {
  const WireError w = wire_error(error.code);
  nlohmann::json body = {{"error",
                          {{"message", error.message},
                           {"type", w.type},
                           {"param", error.param.empty() ? nlohmann::json() : nlohmann::json(error.param)},
                           {"code", error.subcode.empty() ? w.code : error.subcode}}}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace dsgw::daemon
