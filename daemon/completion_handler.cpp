#include "daemon/completion_handler.h"


#include <mutex>
#include <stop_token>

#include "common/log.h"
#include "common/http/server.h"
#include "daemon/http_replies.h"
#include "daemon/openai_request.h"
#include "daemon/openai_response.h"

namespace dsgw::daemon {
namespace {

using router::Event;
using router::EventChannel;
using PopResult = router::EventChannel::PopResult;

// How often a waiting request thread looks at the client and the shutdown clock.
constexpr std::chrono::milliseconds kPollInterval{100};

struct HintHeader {
  const char* header;
  const char* key;
};
constexpr HintHeader kHintHeaders[] = {
    {"X-Dsgw-Data-Class", "data_class"},
    {"X-Dsgw-Latency-Budget-Ms", "latency_budget_ms"},
    {"X-Dsgw-Max-Cost-Usd", "max_cost_usd"},
    {"X-Dsgw-Priority", "priority"},
};

Status apply_hint_headers(const http::Request& req, router::RouteHints& hints) {
  for (const auto& h : kHintHeaders) {
    const auto value = req.headers.get(h.header);
    if (!value) continue;
    if (Status s = apply_hint(hints, h.key, *value); !s) {
      return make_error(ErrorCode::kInvalidRequest,
                        std::string("header ") + h.header + " is malformed: " + s.error().message, h.header,
                        "invalid_value");
    }
  }
  return Status::ok();
}

Error shutting_down() {
  Error e = make_error(ErrorCode::kUnavailable, "dsgw is shutting down");
  e.retry_after_seconds = 1;
  return e;
}

Error ended_without_result() {
  return make_error(ErrorCode::kInternal, "the backend ended without a result");
}

// Reads events for the request thread, giving up at shutdown.
class EventReader {
 public:
  EventReader(std::shared_ptr<EventChannel> channel, const Shutdown& shutdown)
      : channel_(std::move(channel)), shutdown_(shutdown) {}
  ~EventReader() { channel_->cancel(); }  // no-op once the producer is done

  // The next event; a Failure when the stream closed early or shutdown came.
  // `client_alive` is polled while waiting: returning false cancels.
  template <class AliveCheck>
  std::optional<Event> next(AliveCheck client_alive) {
    Event event;
    for (;;) {
      switch (channel_->pop(event, kPollInterval)) {
        case PopResult::kEvent:
          // A stream that never pauses must notice the cut-off too.
          if (shutdown_.is_cut_off()) {
            channel_->cancel();
            return Event{router::Failure{shutting_down()}};
          }
          return event;
        case PopResult::kClosed: return Event{router::Failure{ended_without_result()}};
        case PopResult::kTimeout:
          if (!client_alive()) {
            channel_->cancel();
            return std::nullopt;
          }
          if (shutdown_.is_cut_off()) {
            channel_->cancel();
            return Event{router::Failure{shutting_down()}};
          }
      }
    }
  }

 private:
  std::shared_ptr<EventChannel> channel_;
  const Shutdown& shutdown_;
};

// Collects a non-streamed answer on the request thread. It is cancelled when
// the client leaves (cancel_source(), from the DisconnectWatch) or at the
// shutdown cut-off.
class WholeResponse final : public router::EventSink {
 public:
  WholeResponse(ResponseIdentity identity, const std::stop_token& cut_off)
      : aggregate_(std::move(identity)),
        on_cut_off_(cut_off, [source = cancel_] { source.request_stop(); }) {}

  // A handle that cancels this response, safe to use after it is gone.
  std::stop_source cancel_source() const { return cancel_; }

  bool emit(Event event) override {
    std::lock_guard lock(mutex_);
    if (const auto* d = std::get_if<router::Delta>(&event)) {
      aggregate_.add(*d);
    } else if (const auto* u = std::get_if<router::Usage>(&event)) {
      aggregate_.add(*u);
    } else if (const auto* f = std::get_if<router::Finish>(&event)) {
      body_ = aggregate_.render(*f);
    } else if (const auto* e = std::get_if<router::Failure>(&event)) {
      error_ = e->error;
    }
    return !cancel_.stop_requested();
  }
  bool cancelled() const override { return cancel_.stop_requested(); }
  void on_cancel(std::function<void()> callback) override {
    std::lock_guard lock(mutex_);
    on_cancel_.reset();
    if (callback) on_cancel_.emplace(cancel_.get_token(), std::move(callback));
  }

  void reply(http::Response& res) {
    std::lock_guard lock(mutex_);
    on_cancel_.reset();
    if (error_) return reply_error(res, *error_);
    if (body_.empty()) return reply_error(res, cancel_.stop_requested() ? shutting_down() : ended_without_result());
    reply_json(res, 200, body_);
  }

 private:
  std::mutex mutex_;
  CompletionAggregator aggregate_;
  std::stop_source cancel_;
  std::stop_callback<std::function<void()>> on_cut_off_;
  std::optional<std::stop_callback<std::function<void()>>> on_cancel_;
  std::string body_;
  std::optional<Error> error_;
};

// Writes one event to an SSE stream. Returns false when the stream is over.
bool write_event(http::BodySink& sink, ChunkEncoder& encoder, const Event& event, bool& client_gone) {
  std::string text;
  bool last = false;
  if (const auto* d = std::get_if<router::Delta>(&event)) {
    text = encoder.delta(*d);
  } else if (const auto* u = std::get_if<router::Usage>(&event)) {
    text = encoder.usage(*u);
  } else if (const auto* f = std::get_if<router::Finish>(&event)) {
    text = encoder.finish(*f);
    last = true;
  } else if (const auto* e = std::get_if<router::Failure>(&event)) {
    text = ChunkEncoder::failure(e->error);
    last = true;
  }
  if (!text.empty() && !sink.write(text)) {
    client_gone = true;
    return false;
  }
  return !last;
}

void reply_stream(http::Response& res, std::shared_ptr<EventReader> reader, Event first,
                  ResponseIdentity id, bool include_usage, std::string request_id) {
  set_header(res, "Cache-Control", "no-cache");
  set_header(res, "X-Accel-Buffering", "no");
  auto encoder = std::make_shared<ChunkEncoder>(std::move(id), include_usage);
  auto pending = std::make_shared<std::optional<Event>>(std::move(first));
  res.set_producer(
      "text/event-stream",
      [reader, encoder, pending, request_id](http::BodySink& sink) {
        bool client_gone = false;
        std::optional<Event> event = std::move(*pending);
        pending->reset();
        while (event && write_event(sink, *encoder, *event, client_gone)) {
          event = reader->next([&] { return sink.client_alive(); });
        }
        if (client_gone || !event) {
          log::info("request.client_gone").kv("request_id", request_id);
          return false;  // drops the connection; the reader cancels the backend
        }
        return true;
      });
}

}  // namespace

Result<router::Request> read_request(const http::Request& req, router::Endpoint endpoint,
                                     const std::string& request_id) {
  auto parsed = parse_openai_request(req.body, endpoint);
  if (!parsed) return parsed.error();
  router::Request request = std::move(parsed.value());
  request.id = request_id;
  request.credential = bearer_token(req);
  if (Status s = apply_hint_headers(req, request.hints); !s) return s.error();
  return request;
}

void CompletionHandler::handle(const http::Request& req, http::Response& res,
                               router::Endpoint endpoint) const {
  const std::string request_id = request_id_of(res);
  auto read = read_request(req, endpoint, request_id);
  if (!read) {
    log::info("request.rejected").kv("request_id", request_id).kv("error", read.error().message);
    return reply_error(res, read.error());
  }
  router::Request request = std::move(read.value());
  if (shutdown_.draining()) return reply_error(res, shutting_down());

  const bool stream = request.stream;
  const bool include_usage = request.include_usage;
  const ResponseIdentity identity = make_identity(request);
  auto placement = runtime_.pipeline().place(std::move(request), runtime_.current()->table);
  if (!placement) {
    log::info("request.refused").kv("request_id", request_id).kv("error", placement.error().message);
    return reply_error(res, placement.error());
  }
  // The backend may change by failover until the first event: name it after.
  const router::ServedBy served_by = placement->served_by();
  set_header(res, kBackendHeader, served_by.name());
  set_header(res, kRuleHeader, placement->rule());

  if (!stream) {
    WholeResponse whole(identity, shutdown_.cut_off_token());
    std::shared_ptr<router::Ran> ran;
    {
      auto watching = disconnects_.watch(req, [source = whole.cancel_source()] { source.request_stop(); });
      ran = std::make_shared<router::Ran>(runtime_.pipeline().run(std::move(placement.value()), whole));
    }
    if (whole.cancelled() && !shutdown_.is_cut_off()) {
      log::info("request.client_gone").kv("request_id", request_id);
    }
    set_header(res, kBackendHeader, served_by.name());
    whole.reply(res);
    // The log and audit lines are written once the answer is out.
    res.on_sent = [ran = std::move(ran)] { ran->record(); };
    return;
  }
  // Nothing is committed until the first event: a stream that fails before
  // its first byte gets a proper HTTP status and JSON error.
  auto reader = std::make_shared<EventReader>(runtime_.pipeline().start(std::move(placement.value())), shutdown_);
  std::optional<Event> first = reader->next([&] { return !http::client_gone(req.fd); });
  if (!first) {
    log::info("request.client_gone").kv("request_id", request_id);
    res.drop_connection = true;  // nobody to answer
    return;
  }
  set_header(res, kBackendHeader, served_by.name());
  if (const auto* failure = std::get_if<router::Failure>(&*first)) return reply_error(res, failure->error);
  reply_stream(res, std::move(reader), std::move(*first), identity, include_usage, request_id);
}

}  // namespace dsgw::daemon
