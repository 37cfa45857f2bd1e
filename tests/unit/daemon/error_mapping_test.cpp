#include "daemon/error_mapping.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

using nlohmann::json;
using dsgw::ErrorCode;
using dsgw::daemon::error_body;
using dsgw::daemon::wire_error;

TEST_CASE("wire_error maps each ErrorCode to its HTTP status, type and code") {
  struct Row {
    ErrorCode code;
    int status;
    const char* type;
    const char* wire_code;
  };
  const Row rows[] = {
      {ErrorCode::kInvalidRequest, 400, "invalid_request_error", "invalid_request"},
      {ErrorCode::kUnauthenticated, 401, "authentication_error", "invalid_api_key"},
      {ErrorCode::kNotFound, 404, "invalid_request_error", "not_found"},
      {ErrorCode::kPayloadTooLarge, 413, "invalid_request_error", "payload_too_large"},
      {ErrorCode::kUnprocessable, 422, "invalid_request_error", "unprocessable_entity"},
      {ErrorCode::kContextLengthExceeded, 400, "invalid_request_error", "context_length_exceeded"},
      {ErrorCode::kOverloaded, 429, "rate_limit_error", "overloaded"},
      {ErrorCode::kUpstreamRateLimited, 429, "rate_limit_error", "upstream_rate_limited"},
      {ErrorCode::kUpstreamError, 502, "api_error", "upstream_error"},
      {ErrorCode::kUnavailable, 503, "api_error", "backend_unavailable"},
      {ErrorCode::kTimeout, 504, "api_error", "upstream_timeout"},
      {ErrorCode::kCancelled, 499, "api_error", "cancelled"},
      {ErrorCode::kInternal, 500, "api_error", "internal_error"},
  };
  for (const Row& row : rows) {
    CAPTURE(static_cast<int>(row.code));
    const auto w = wire_error(row.code);
    CHECK(w.http_status == row.status);
    CHECK(std::string(w.type) == row.type);
    CHECK(std::string(w.code) == row.wire_code);
  }
}

TEST_CASE("error_body has OpenAI's shape") {
  const json j = json::parse(error_body(dsgw::make_error(ErrorCode::kNotFound, "no such model", "model")));
  REQUIRE(j.is_object());
  REQUIRE(j.size() == 1);
  const json& e = j["error"];
  CHECK(e.size() == 4);
  CHECK(e["message"] == "no such model");
  CHECK(e["type"] == "invalid_request_error");
  CHECK(e["param"] == "model");
  CHECK(e["code"] == "not_found");
}

TEST_CASE("error_body writes param null when there is none") {
  const json j = json::parse(error_body(dsgw::make_error(ErrorCode::kInternal, "oops")));
  CHECK(j["error"]["param"].is_null());
  CHECK(j["error"]["code"] == "internal_error");
}

TEST_CASE("error_body's code is the subcode when one is set") {
  const json j = json::parse(
      error_body(dsgw::make_error(ErrorCode::kInvalidRequest, "bad json", "", "invalid_json")));
  CHECK(j["error"]["code"] == "invalid_json");
  CHECK(j["error"]["type"] == "invalid_request_error");
}

TEST_CASE("error_body stays valid JSON when the message holds invalid UTF-8") {
  const std::string body = error_body(dsgw::make_error(ErrorCode::kUpstreamError, "upstream said \xC3("));
  json j;
  REQUIRE_NOTHROW(j = json::parse(body));
  CHECK(j["error"]["message"].get<std::string>().rfind("upstream said ", 0) == 0);
}
