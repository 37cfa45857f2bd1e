#include "daemon/http_replies.h"

#include <strings.h>

#include "daemon/error_mapping.h"

namespace dsgw::daemon {

std::string request_id_of(const http::Response& res) {
  return std::string(res.headers.get(kRequestIdHeader).value_or(""));
}

void reply_json(http::Response& res, int status, std::string body) {
  res.status = status;
  res.set_content(std::move(body), "application/json");
}

void reply_error(http::Response& res, const Error& error) {
  if (error.retry_after_seconds) set_header(res, "Retry-After", std::to_string(*error.retry_after_seconds));
  reply_json(res, wire_error(error.code).http_status, error_body(error));
}

std::string bearer_token(const http::Request& req) {
  const std::string_view value = req.header("Authorization");
  constexpr std::string_view kScheme = "Bearer ";
  if (value.size() <= kScheme.size() || strncasecmp(value.data(), kScheme.data(), kScheme.size()) != 0) {
    return "";
  }
  return std::string(value.substr(kScheme.size()));
}

}  // namespace dsgw::daemon
