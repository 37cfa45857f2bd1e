#include "backends/openai/openai_backend.h"

#include <httplib.h>

#include "backends/openai/sse_parser.h"
#include "backends/openai/upstream_wire.h"

namespace dsgw::backends::openai {
namespace {

using router::Event;
using router::Failure;

constexpr size_t kMaxErrorBody = 64 << 10;
constexpr size_t kMaxResponseBody = 64 << 20;

enum class Abort { kNone, kFirstByteDeadline, kTotalDeadline, kCancelled };

// Stops an exchange's client from any thread (timer, cancelling consumer), at
// most once, and never after the exchange has finished with the client.
class AbortSwitch {
 public:
  explicit AbortSwitch(std::shared_ptr<httplib::Client> client) : client_(std::move(client)) {}

  void trip(Abort why) {
    std::lock_guard lock(mutex_);
    if (finished_ || reason_ != Abort::kNone) return;
    reason_ = why;
    client_->stop();
  }
  // After this, trip() does nothing. Returns why the exchange was aborted.
  Abort finish() {
    std::lock_guard lock(mutex_);
    finished_ = true;
    return reason_;
  }

 private:
  std::mutex mutex_;
  bool finished_ = false;
  Abort reason_ = Abort::kNone;
  std::shared_ptr<httplib::Client> client_;
};

// One request to the upstream: receives its status and body, and turns them
// into events for the sink as they arrive.
class Exchange {
 public:
  Exchange(const router::Request& request, router::EventSink& sink)
      : request_(request), sink_(sink), translator_(request.endpoint) {}

  void on_headers(const httplib::Response& res) {
    status_ = res.status;
    if (res.has_header("Retry-After")) retry_after_ = res.get_header_value("Retry-After");
  }

  // Returns false to abort the transfer.
  bool on_body(const char* data, size_t len) {
    if (sink_.cancelled() || failure_) return false;
    if (status_ != 200) {
      error_body_.append(data, std::min(len, kMaxErrorBody - std::min(kMaxErrorBody, error_body_.size())));
      return true;
    }
    if (!request_.stream) {
      if (body_.size() + len > kMaxResponseBody) {
        failure_ = make_error(ErrorCode::kUpstreamError, "upstream response exceeds 64 MiB");
        return false;
      }
      body_.append(data, len);
      return true;
    }
    return parser_.feed(std::string_view(data, len), [&](const SseEvent& e) { return on_event(e); }) &&
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

Error transport_error(httplib::Error err, const std::string& origin, bool started) {
  switch (err) {
    case httplib::Error::Connection:
      return make_error(ErrorCode::kUnavailable, "cannot connect to upstream " + origin);
    case httplib::Error::SSLServerVerification:
      return make_error(ErrorCode::kUpstreamError,
                        "the TLS certificate of upstream " + origin +
                            " could not be verified against the trusted CAs (see ca_file)");
    case httplib::Error::SSLConnection:
      return make_error(ErrorCode::kUpstreamError, "TLS handshake with upstream " + origin + " failed");
    case httplib::Error::Read:
      return make_error(ErrorCode::kUpstreamError,
                        started ? "upstream " + origin + " dropped the connection mid-stream"
                                : "upstream " + origin + " closed the connection without answering");
    default:
      return make_error(ErrorCode::kUpstreamError,
                        "request to upstream " + origin + " failed: " + httplib::to_string(err));
  }
}

}  // namespace

OpenAIBackend::OpenAIBackend(BackendInfo info, Settings settings)
    : info_(std::move(info)), settings_(std::move(settings)) {}

OpenAIBackend::~OpenAIBackend() = default;

Health OpenAIBackend::health() const {
  if (!settings_.unusable_reason.empty()) return Health{false, settings_.unusable_reason};
  return Health{true, ""};
}

std::shared_ptr<httplib::Client> OpenAIBackend::acquire_client() {
  {
    std::lock_guard lock(idle_mutex_);
    if (!idle_.empty()) {
      auto client = std::move(idle_.back());
      idle_.pop_back();
      return client;
    }
  }
  auto client = std::make_shared<httplib::Client>(settings_.base_url.origin());
  client->set_connection_timeout(settings_.connect_timeout);
  // The deadline timer enforces the timeouts; the socket's own read timeout is
  // only a backstop, set later so that it never wins the race.
  client->set_read_timeout(settings_.total_timeout + std::chrono::seconds(10));
  client->set_write_timeout(settings_.connect_timeout + std::chrono::seconds(30));
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);
  if (settings_.base_url.tls) {
    client->enable_server_certificate_verification(true);
    if (!settings_.ca_file.empty()) client->set_ca_cert_path(settings_.ca_file);
  }
  return client;
}

void OpenAIBackend::release_client(std::shared_ptr<httplib::Client> client) {
  std::lock_guard lock(idle_mutex_);
  if (static_cast<int>(idle_.size()) < settings_.max_idle_connections) idle_.push_back(std::move(client));
}

void OpenAIBackend::generate(const router::Request& request, router::EventSink& sink) {
  if (!settings_.unusable_reason.empty()) {
    sink.emit(Failure{make_error(ErrorCode::kUnavailable, "backend \"" + info_.name +
                                                              "\" is not usable: " + settings_.unusable_reason)});
    return;
  }
  const std::string origin = settings_.base_url.origin();
  auto client = acquire_client();
  auto abort = std::make_shared<AbortSwitch>(client);
  sink.on_cancel([abort] { abort->trip(Abort::kCancelled); });

  const auto now = DeadlineTimer::Clock::now();
  const auto total_id =
      timer_.schedule(now + settings_.total_timeout, [abort] { abort->trip(Abort::kTotalDeadline); });
  // A non-streamed answer's first byte comes with its last: only the total applies.
  std::optional<DeadlineTimer::Id> first_byte_id;
  if (request.stream) {
    first_byte_id = timer_.schedule(now + settings_.first_byte_timeout,
                                    [abort] { abort->trip(Abort::kFirstByteDeadline); });
  }

  Exchange exchange(request, sink);
  httplib::Request req;
  req.method = "POST";
  req.path = settings_.base_url.path +
             (request.endpoint == router::Endpoint::kChat ? "/chat/completions" : "/completions");
  req.set_header("Content-Type", "application/json");
  req.set_header("Accept", request.stream ? "text/event-stream" : "application/json");
  if (!settings_.api_key.empty()) req.set_header("Authorization", "Bearer " + settings_.api_key);
  req.body = build_request_body(request, settings_.model);
  req.response_handler = [&](const httplib::Response& res) {
    if (first_byte_id) timer_.cancel(*first_byte_id);
    exchange.on_headers(res);
    return !sink.cancelled();
  };
  req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    return exchange.on_body(data, len);
  };

  const httplib::Result result = client->send(req);

  // After finish(), late timer callbacks and cancellations leave the client alone.
  const Abort aborted = abort->finish();
  timer_.cancel(total_id);
  if (first_byte_id) timer_.cancel(*first_byte_id);
  sink.on_cancel({});
  if (sink.cancelled()) return;  // the client is gone: nobody to tell

  if (aborted == Abort::kFirstByteDeadline) {
    exchange.fail(make_error(ErrorCode::kTimeout, "upstream " + origin + " sent no first byte within " +
                                                      millis(settings_.first_byte_timeout)));
  } else if (aborted == Abort::kTotalDeadline) {
    exchange.fail(make_error(ErrorCode::kTimeout, "upstream " + origin + " did not finish within " +
                                                      millis(settings_.total_timeout)));
  } else if (result.error() != httplib::Error::Success && result.error() != httplib::Error::Canceled) {
    exchange.fail(transport_error(result.error(), origin, exchange.started()));
  } else if (exchange.status() != 200 && exchange.status() != 0) {
    exchange.fail(status_error(exchange.status(), exchange.error_body(), exchange.retry_after()));
    if (aborted == Abort::kNone) release_client(std::move(client));
  } else {
    exchange.complete();
    if (aborted == Abort::kNone && result) release_client(std::move(client));
  }
}

}  // namespace dsgw::backends::openai
