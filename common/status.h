// Errors on the data path are values. An Error carries a code that the front
// doors map to their wire format in exactly one place (daemon/error_mapping).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace dsgw {

enum class ErrorCode {
  kInvalidRequest,         // malformed or semantically wrong input
  kUnauthenticated,        // missing or unknown API key
  kNotFound,               // unknown model, path or resource
  kPayloadTooLarge,        // body over the configured limit
  kUnprocessable,          // well-formed but refused by the upstream (422)
  kContextLengthExceeded,  // prompt longer than the model's context
  kOverloaded,             // dsgw is at capacity; retry later
  kUpstreamRateLimited,    // the upstream said 429
  kUpstreamError,          // the upstream failed or answered garbage (502)
  kUnavailable,            // no usable backend (503)
  kTimeout,                // the upstream did not answer in time (504)
  kCancelled,              // the client went away
  kInternal,               // a bug in dsgw
};

// The code's stable machine-readable name, as OpenAI-style `error.code` and in
// logs: invalid_request, invalid_api_key, not_found, ...
constexpr const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidRequest: return "invalid_request";
    case ErrorCode::kUnauthenticated: return "invalid_api_key";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kPayloadTooLarge: return "payload_too_large";
    case ErrorCode::kUnprocessable: return "unprocessable_entity";
    case ErrorCode::kContextLengthExceeded: return "context_length_exceeded";
    case ErrorCode::kOverloaded: return "overloaded";
    case ErrorCode::kUpstreamRateLimited: return "upstream_rate_limited";
    case ErrorCode::kUpstreamError: return "upstream_error";
    case ErrorCode::kUnavailable: return "backend_unavailable";
    case ErrorCode::kTimeout: return "upstream_timeout";
    case ErrorCode::kCancelled: return "cancelled";
    case ErrorCode::kInternal: return "internal_error";
  }
  return "internal_error";
}

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string param;                       // the offending request field, if any
  std::optional<int> retry_after_seconds;  // for kOverloaded / kUpstreamRateLimited
  std::string subcode;  // finer machine-readable reason (e.g. "invalid_json"); optional
};

inline Error make_error(ErrorCode code, std::string message, std::string param = {},
                        std::string subcode = {}) {
  return Error{code, std::move(message), std::move(param), std::nullopt, std::move(subcode)};
}

// A value or an Error. Small on purpose: has_value(), value(), error().
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}   // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { assert(has_value()); return std::get<0>(v_); }
  const T& value() const& { assert(has_value()); return std::get<0>(v_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { assert(!has_value()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
class Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  static Status ok() { return {}; }

  bool is_ok() const { return !error_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  const Error& error() const { assert(error_); return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace dsgw
