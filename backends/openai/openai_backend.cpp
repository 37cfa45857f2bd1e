#include "backends/openai/openai_backend.h"

#include <mutex>
#include <optional>

#include "backends/openai/sse_parser.h"
#include "backends/openai/upstream_wire.h"

namespace dsgw::backends::openai {
namespace {

using router::Event;
using router::Failure;

constexpr size_t kMaxErrorBody = 64 << 10;
constexpr size_t kMaxResponseBody = 64 << 20;

enum class AbortReason { kNone, kFirstByteDeadline, kTotalDeadline, kCancelled };

// Ends an exchange from any thread (timer, cancelling consumer), at most once,
// remembering why; after finish() it does nothing.
class AbortSwitch {
 public:
  void trip(AbortReason why) {
    std::lock_guard lock(mutex_);
    if (finished_ || reason_ != AbortReason::kNone) return;
    reason_ = why;
    abort_.trip();
  }
  // Returns why the exchange was aborted.
  AbortReason finish() {
    std::lock_guard lock(mutex_);
    finished_ = true;
    return reason_;
  }
  http::Abort& handle() { return abort_; }

 private:
  std::mutex mutex_;
  bool finished_ = false;
  AbortReason reason_ = AbortReason::kNone;
  http::Abort abort_;
};

// One request to the upstream: receives its status and body, and turns them
// into events for the sink as they arrive.
class Exchange {
 public:
  Exchange(const router::Request& request, router::EventSink& sink)
      : request_(request), sink_(sink), translator_(request.endpoint) {}

  void on_headers(const http::ResponseHead& res) {
    status_ = res.status;
    retry_after_ = res.headers.get("Retry-After").value_or("");
  }

  // Returns false to abort the transfer.
  bool on_body(std::string_view data) {
    const size_t len = data.size();
    if (sink_.cancelled() || failure_) return false;
    if (status_ != 200) {
      error_body_.append(data.substr(0, kMaxErrorBody - std::min(kMaxErrorBody, error_body_.size())));
      return true;
    }
    if (!request_.stream) {
      if (body_.size() + len > kMaxResponseBody) {
        failure_ = make_error(ErrorCode::kUpstreamError, "upstream response exceeds 64 MiB");
        return false;
      }
      body_.append(data);
      return true;
    }
    return parser_.feed(data, [&](const SseEvent& e) { return on_event(e); }) &&
           !failure_;
  }

  // Called once the transfer is over and went through: emits what remains.
  void complete() {
    if (failure_) return fail(*failure_);
    std::vector<Event> events;
    Status s = request_.stream ? Status::ok() : translator_.on_response(body_, events);
    if (s) s = translator_.finish(events);
    if (!s) return fail(s.error());
    emit_all(events);
  }

  void fail(const Error& error) { sink_.emit(Failure{error}); }

  int status() const { return status_; }
  bool started() const { return started_; }
  const std::string& error_body() const { return error_body_; }
  const std::string& retry_after() const { return retry_after_; }

 private:
  bool on_event(const SseEvent& e) {
    if (e.data == "[DONE]") return true;
    std::vector<Event> events;
    if (Status s = translator_.on_chunk(e.data, events); !s) {
      failure_ = s.error();
      return false;
    }
    return emit_all(events);
  }

  bool emit_all(std::vector<Event>& events) {
    for (auto& ev : events) {
      started_ = true;
      if (!sink_.emit(std::move(ev))) return false;
    }
    return true;
  }

  const router::Request& request_;
  router::EventSink& sink_;
  ResponseTranslator translator_;
  SseParser parser_;
  int status_ = 0;
  bool started_ = false;  // events went to the sink
  std::string body_;
  std::string error_body_;
  std::string retry_after_;
  std::optional<Error> failure_;
};

std::string millis(std::chrono::milliseconds ms) { return std::to_string(ms.count()) + " ms"; }

// Maps a non-200 upstream answer to the error the client sees.
Error status_error(int status, const std::string& body, const std::string& retry_after) {
  const std::string what = "upstream answered " + std::to_string(status) + ": " + upstream_error_message(body);
  if (status == 429) {
    Error e = make_error(ErrorCode::kUpstreamRateLimited, what);
    int seconds = 0;
    if (!retry_after.empty() && std::sscanf(retry_after.c_str(), "%d", &seconds) == 1 && seconds >= 0) {
      e.retry_after_seconds = seconds;
    }
    return e;
  }
  // The client's request was wrong for this upstream: tell it so.
  if (status == 400) return make_error(ErrorCode::kInvalidRequest, what);
  if (status == 422) return make_error(ErrorCode::kUnprocessable, what);
  if (status == 404) return make_error(ErrorCode::kNotFound, what);
  if (status == 413) return make_error(ErrorCode::kPayloadTooLarge, what);
  // 401/403 mean dsgw's own credentials are wrong; 5xx mean the upstream broke.
  return make_error(ErrorCode::kUpstreamError, what);
}

Error transport_error(const http::SendResult& failed, const std::string& origin, bool started) {
  switch (failed.error) {
    case http::TransportError::kConnect:
      return make_error(ErrorCode::kUnavailable, "cannot connect to upstream " + origin + ": " + failed.detail);
    case http::TransportError::kTlsVerify:
      return make_error(ErrorCode::kUpstreamError,
                        "the TLS certificate of upstream " + origin +
                            " could not be verified against the trusted CAs (see ca_file): " + failed.detail);
    case http::TransportError::kTlsHandshake:
      return make_error(ErrorCode::kUpstreamError, "TLS handshake with upstream " + origin + " failed: " + failed.detail);
    case http::TransportError::kRead:
      return make_error(ErrorCode::kUpstreamError,
                        started ? "upstream " + origin + " dropped the connection mid-stream"
                                : "upstream " + origin + " failed to answer: " + failed.detail);
    default:
      return make_error(ErrorCode::kUpstreamError, "request to upstream " + origin + " failed: " + failed.detail);
  }
}

http::ClientSettings client_settings(const Settings& s) {
  http::ClientSettings c;
  c.connect_timeout = s.connect_timeout;
  // The deadline timer enforces the timeouts; the socket's own read timeout is
  // only a backstop, set later so that it never wins the race.
  c.read_timeout = s.total_timeout + std::chrono::seconds(10);
  c.write_timeout = s.connect_timeout + std::chrono::seconds(30);
  c.ca_file = s.ca_file;
  c.max_idle_connections = s.max_idle_connections;
  return c;
}

}  // namespace

OpenAIBackend::OpenAIBackend(BackendInfo info, Settings settings)
    : info_(std::move(info)), settings_(std::move(settings)),
      client_(http::Origin{settings_.base_url.tls, settings_.base_url.host, settings_.base_url.port},
              client_settings(settings_)) {}

OpenAIBackend::~OpenAIBackend() = default;

Health OpenAIBackend::health() const {
  if (!settings_.unusable_reason.empty()) return Health{false, settings_.unusable_reason};
  return Health{true, ""};
}

void OpenAIBackend::generate(const router::Request& request, router::EventSink& sink) {
  if (!settings_.unusable_reason.empty()) {
    sink.emit(Failure{make_error(ErrorCode::kUnavailable, "backend \"" + info_.name +
                                                              "\" is not usable: " + settings_.unusable_reason)});
    return;
  }
  const std::string origin = settings_.base_url.origin();
  auto abort = std::make_shared<AbortSwitch>();
  sink.on_cancel([abort] { abort->trip(AbortReason::kCancelled); });

  const auto now = DeadlineTimer::Clock::now();
  const auto total_id =
      timer_.schedule(now + settings_.total_timeout, [abort] { abort->trip(AbortReason::kTotalDeadline); });
  // A non-streamed answer's first byte comes with its last: only the total applies.
  std::optional<DeadlineTimer::Id> first_byte_id;
  if (request.stream) {
    first_byte_id = timer_.schedule(now + settings_.first_byte_timeout,
                                    [abort] { abort->trip(AbortReason::kFirstByteDeadline); });
  }

  Exchange exchange(request, sink);
  http::Headers headers;
  headers.add("Content-Type", "application/json");
  headers.add("Accept", request.stream ? "text/event-stream" : "application/json");
  if (!settings_.api_key.empty()) headers.add("Authorization", "Bearer " + settings_.api_key);
  const std::string path = settings_.base_url.path +
                           (request.endpoint == router::Endpoint::kChat ? "/chat/completions" : "/completions");
  const http::SendResult result = client_.send(
      "POST", path, headers, build_request_body(request, settings_.model),
      [&](const http::ResponseHead& res) {
        if (first_byte_id) timer_.cancel(*first_byte_id);
        exchange.on_headers(res);
        return !sink.cancelled();
      },
      [&](std::string_view data) { return exchange.on_body(data); }, abort->handle());

  // After finish(), late timer callbacks and cancellations do nothing.
  const AbortReason aborted = abort->finish();
  timer_.cancel(total_id);
  if (first_byte_id) timer_.cancel(*first_byte_id);
  sink.on_cancel({});
  if (sink.cancelled()) return;  // the client is gone: nobody to tell

  if (aborted == AbortReason::kFirstByteDeadline) {
    exchange.fail(make_error(ErrorCode::kTimeout, "upstream " + origin + " sent no first byte within " +
                                                      millis(settings_.first_byte_timeout)));
  } else if (aborted == AbortReason::kTotalDeadline) {
    exchange.fail(make_error(ErrorCode::kTimeout, "upstream " + origin + " did not finish within " +
                                                      millis(settings_.total_timeout)));
  } else if (!result && result.error != http::TransportError::kStopped) {
    exchange.fail(transport_error(result, origin, exchange.started()));
  } else if (exchange.status() != 200 && exchange.status() != 0) {
    exchange.fail(status_error(exchange.status(), exchange.error_body(), exchange.retry_after()));
  } else {
    exchange.complete();
  }
}

}  // namespace dsgw::backends::openai
