#include "daemon/http_replies.h"

#include <httplib.h>

#include "daemon/error_mapping.h"

namespace dsgw::daemon {

void set_header(httplib::Response& res, const char* name, std::string_view value) {
  res.headers.erase(name);
  res.set_header(name, std::string(value));
}

std::string request_id_of(const httplib::Response& res) { return res.get_header_value(kRequestIdHeader); }

void reply_json(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json");
}

void reply_error(httplib::Response& res, const Error& error) {
  if (error.retry_after_seconds) set_header(res, "Retry-After", std::to_string(*error.retry_after_seconds));
  reply_json(res, wire_error(error.code).http_status, error_body(error));
}

std::string bearer_token(const httplib::Request& req) {
  const std::string value = req.get_header_value("Authorization");
  constexpr std::string_view kScheme = "Bearer ";
  if (value.size() <= kScheme.size() || strncasecmp(value.c_str(), kScheme.data(), kScheme.size()) != 0) {
    return "";
  }
  return value.substr(kScheme.size());
}

}  // namespace dsgw::daemon
