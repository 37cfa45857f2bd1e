#include "daemon/error_mapping.h"

#include <nlohmann/json.hpp>

namespace dsgw::daemon {

WireError wire_error(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidRequest: return {400, "invalid_request_error", "invalid_request"};
    case ErrorCode::kUnauthenticated: return {401, "authentication_error", "invalid_api_key"};
    case ErrorCode::kNotFound: return {404, "invalid_request_error", "not_found"};
    case ErrorCode::kPayloadTooLarge: return {413, "invalid_request_error", "payload_too_large"};
    case ErrorCode::kUnprocessable: return {422, "invalid_request_error", "unprocessable_entity"};
    case ErrorCode::kContextLengthExceeded:
      return {400, "invalid_request_error", "context_length_exceeded"};
    case ErrorCode::kOverloaded: return {429, "rate_limit_error", "overloaded"};
    case ErrorCode::kUpstreamRateLimited: return {429, "rate_limit_error", "upstream_rate_limited"};
    case ErrorCode::kUpstreamError: return {502, "api_error", "upstream_error"};
    case ErrorCode::kUnavailable: return {503, "api_error", "backend_unavailable"};
    case ErrorCode::kTimeout: return {504, "api_error", "upstream_timeout"};
    case ErrorCode::kCancelled: return {499, "api_error", "cancelled"};
    case ErrorCode::kInternal: return {500, "api_error", "internal_error"};
  }
  return {500, "api_error", "internal_error"};
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
