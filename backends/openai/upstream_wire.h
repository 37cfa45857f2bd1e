// The OpenAI wire format as dsgw speaks it to upstreams: building request
// bodies from native Requests and turning response JSON into native events.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"
#include "router/events.h"
#include "router/request.h"

namespace dsgw::backends::openai {

// The JSON body for POST {base_url}/chat/completions or /completions:
// the client's uninterpreted fields, its messages as sent, the sampling
// parameters it set, `model` replaced by the upstream's id. Streams always ask
// for usage so that dsgw can count tokens.
std::string build_request_body(const router::Request& request, const std::string& upstream_model);

// Accumulates one generation's upstream JSON into native events. Usage and
// the finish reason are held back and emitted last, because upstreams send
// usage after the finish chunk.
class ResponseTranslator {
 public:
  explicit ResponseTranslator(router::Endpoint endpoint) : endpoint_(endpoint) {}

  // One `data:` payload of a stream. Appends events for it to `out`.
  Status on_chunk(std::string_view json_text, std::vector<router::Event>& out);
  // A whole non-stream response body.
  Status on_response(std::string_view json_text, std::vector<router::Event>& out);
  // The stream is over ([DONE] or end of body): Usage (if any), then Finish.
  // Fails if the upstream never said how the generation ended.
  Status finish(std::vector<router::Event>& out);

 private:
  Status on_object(const nlohmann::json& object, bool whole_message,
                   std::vector<router::Event>& out);

  router::Endpoint endpoint_;
  std::string finish_reason_;
  bool has_usage_ = false;
  router::Usage usage_;
};

// The human-readable message of an upstream error body (OpenAI's
// {"error":{"message"}} or plain text), shortened.
std::string upstream_error_message(std::string_view body);

}  // namespace dsgw::backends::openai
