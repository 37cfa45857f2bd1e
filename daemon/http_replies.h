// Small helpers every HTTP handler uses to answer.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace httplib {
struct Response;
struct Request;
}  // namespace httplib

namespace dsgw::daemon {

inline constexpr const char* kRequestIdHeader = "X-Request-Id";
inline constexpr const char* kBackendHeader = "X-Dsgw-Backend";
inline constexpr const char* kRuleHeader = "X-Dsgw-Rule";

// Sets a header, replacing any earlier value.
void set_header(httplib::Response& res, const char* name, std::string_view value);

// The request id the pre-routing handler gave this exchange.
std::string request_id_of(const httplib::Response& res);

void reply_json(httplib::Response& res, int status, const std::string& body);
// An OpenAI-shaped error with its status (and Retry-After when set).
void reply_error(httplib::Response& res, const Error& error);

// The bearer token of an Authorization header, or "".
std::string bearer_token(const httplib::Request& req);

}  // namespace dsgw::daemon
