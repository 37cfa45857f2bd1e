// Small helpers every HTTP handler uses to answer.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "common/http/message.h"

namespace dsgw::daemon {

inline constexpr const char* kRequestIdHeader = "X-Request-Id";
inline constexpr const char* kBackendHeader = "X-Dsgw-Backend";
inline constexpr const char* kRuleHeader = "X-Dsgw-Rule";

// Sets a header, replacing any earlier value.
inline void set_header(http::Response& res, std::string_view name, std::string_view value) {
  res.headers.set(name, value);
}

// The request id the front door gave this exchange.
std::string request_id_of(const http::Response& res);

void reply_json(http::Response& res, int status, std::string body);
// An OpenAI-shaped error with its status (and Retry-After when set).
void reply_error(http::Response& res, const Error& error);

// The bearer token of an Authorization header, or "".
std::string bearer_token(const http::Request& req);

}  // namespace dsgw::daemon
