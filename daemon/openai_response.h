// Turns native events back into OpenAI's wire format: SSE chunks for streams,
// one completion object otherwise.
#pragma once

#include <cstdint>
#include <string>

#include "router/events.h"
#include "router/request.h"

namespace dsgw::daemon {

// What every chunk and response of one request shares.
struct ResponseIdentity {
  router::Endpoint endpoint;
  std::string id;     // chatcmpl-... / cmpl-...
  std::string model;  // as the client asked
  int64_t created;    // unix seconds
};

ResponseIdentity make_identity(const router::Request& request);

// Stream encoding. Each function returns one complete SSE event
// ("data: ...\n\n"), or "" when the event has nothing to say to the client.
class ChunkEncoder {
 public:
  ChunkEncoder(ResponseIdentity identity, bool include_usage)
      : id_(std::move(identity)), include_usage_(include_usage) {}

  std::string delta(const router::Delta& delta);
  std::string usage(const router::Usage& usage);
  // The finish chunk, then the usage chunk if asked for, then [DONE].
  std::string finish(const router::Finish& finish);
  // A failure after the stream started: an error event; no [DONE].
  static std::string failure(const Error& error);

 private:
  // One chunk event: the delta's text, and the finish when `finish_reason` is set.
  std::string chunk(const router::Delta& delta, const std::string* finish_reason);

  ResponseIdentity id_;
  bool include_usage_;
  bool sent_role_ = false;
  bool has_usage_ = false;
  router::Usage usage_;
};

// Non-stream encoding: collects events, then renders the completion object.
class CompletionAggregator {
 public:
  explicit CompletionAggregator(ResponseIdentity identity) : id_(std::move(identity)) {}

  void add(const router::Delta& delta);
  void add(const router::Usage& usage) { usage_ = usage; }
  std::string render(const router::Finish& finish) const;

 private:
  ResponseIdentity id_;
  std::string content_;
  std::string reasoning_;
  std::string delta_extra_json_;   // last seen, merged into the message
  std::string choice_extra_json_;  // last seen, merged into the choice
  router::Usage usage_;
};

}  // namespace dsgw::daemon
