#include "daemon/http_server.h"

#include <nlohmann/json.hpp>
#include <set>

#include "common/log.h"
#include "common/request_id.h"
#include "daemon/http_replies.h"
#include "daemon/route_handlers.h"
#ifdef DSGW_WITH_LOCAL_ENGINE
#include "daemon/tokenize_handlers.h"
#endif

namespace dsgw::daemon {
namespace {

using nlohmann::json;

http::ServerSettings http_settings(const config::ServerConfig& s) {
  http::ServerSettings h;
  h.host = s.host;
  h.port = s.port;
  h.workers = s.workers;
  h.read_timeout = s.read_timeout;
  h.write_timeout = s.write_timeout;
  h.idle_timeout = s.idle_timeout;
  h.max_body_bytes = static_cast<std::uint64_t>(s.max_body_bytes);
  return h;
}

void name_exchange(http::Response& res) {
  set_header(res, kRequestIdHeader, new_request_id());
  set_header(res, kBackendHeader, "none");
}

// Requests the HTTP layer could not read get the same OpenAI shape as ours.
void reply_protocol_error(int status, const std::string& message, http::Response& res) {
  name_exchange(res);
  switch (status) {
    case 413: reply_error(res, make_error(ErrorCode::kPayloadTooLarge, message)); break;
    default: reply_error(res, make_error(ErrorCode::kInvalidRequest, "malformed HTTP request: " + message)); break;
  }
  res.status = status;
}

void reply_models(const LiveConfig& live, const http::Request& req, http::Response& res) {
  if (auto tenant = live.table->authenticator.authenticate(bearer_token(req)); !tenant) {
    return reply_error(res, tenant.error());
  }
  json data = json::array();
  std::set<std::string> seen;
  for (const auto& b : live.table->backends) {
    for (const auto& m : b->info().models) {
      if (!seen.insert(m).second) continue;
      data.push_back({{"id", m}, {"object", "model"}, {"created", 0}, {"owned_by", b->info().name}});
    }
  }
  reply_json(res, 200, json{{"object", "list"}, {"data", std::move(data)}}.dump());
}

void reply_ready(const LiveConfig& live, bool draining, http::Response& res) {
  json backends = json::array();
  bool any_usable = false;
  for (const auto& b : live.table->backends) {
    const auto health = b->health();
    any_usable = any_usable || health.usable;
    json entry = {{"name", b->info().name}, {"kind", b->info().kind}, {"usable", health.usable}};
    if (!health.usable) entry["reason"] = health.reason;
    backends.push_back(std::move(entry));
  }
  const bool ready = any_usable && !draining;
  reply_json(res, ready ? 200 : 503,
             json{{"status", ready ? "ready" : draining ? "draining" : "no usable backend"},
                  {"config_revision", live.config.revision},
                  {"backends", std::move(backends)}}
                 .dump());
}

}  // namespace

HttpServer::HttpServer(Runtime& runtime, const config::ServerConfig& settings)
    : runtime_(runtime), completions_(runtime, shutdown_),
      server_(http_settings(settings), [this](const http::Request& req, http::Response& res) { dispatch(req, res); },
              reply_protocol_error) {
  install_routes();
}

void HttpServer::install_routes() {
  auto completion = [this](router::Endpoint endpoint) {
    return [this, endpoint](const http::Request& req, http::Response& res) {
      completions_.handle(req, res, endpoint);
    };
  };
  routes_ = {
      {"POST", "/v1/chat/completions", completion(router::Endpoint::kChat)},
      {"POST", "/v1/completions", completion(router::Endpoint::kCompletion)},
      {"GET", "/v1/models",
       [this](const http::Request& req, http::Response& res) { reply_models(*runtime_.current(), req, res); }},
#ifdef DSGW_WITH_LOCAL_ENGINE
      {"POST", "/tokenize",
       [this](const http::Request& req, http::Response& res) { handle_tokenize(*runtime_.current(), req, res); }},
      {"POST", "/detokenize",
       [this](const http::Request& req, http::Response& res) { handle_detokenize(*runtime_.current(), req, res); }},
#endif
      {"POST", "/v1/route/explain",
       [this](const http::Request& req, http::Response& res) { handle_route_explain(runtime_, req, res); }},
      {"POST", "/admin/reload",
       [this](const http::Request& req, http::Response& res) { handle_admin_reload(runtime_, req, res); }},
      {"GET", "/healthz",
       [](const http::Request&, http::Response& res) { reply_json(res, 200, R"({"status":"ok"})"); }},
      {"GET", "/readyz",
       [this](const http::Request&, http::Response& res) {
         reply_ready(*runtime_.current(), shutdown_.draining(), res);
       }},
  };
}

void HttpServer::dispatch(const http::Request& req, http::Response& res) const {
  name_exchange(res);
  bool path_known = false;
  for (const auto& route : routes_) {
    if (route.path != req.path) continue;
    path_known = true;
    // HEAD is GET without the body (the server leaves it out): probes use it.
    if (route.method != req.method && !(req.method == "HEAD" && route.method == "GET")) continue;
    try {
      route.handle(req, res);
    } catch (const std::exception& e) {
      log::error("http.exception").kv("request_id", request_id_of(res)).kv("error", e.what());
      res.producer = nullptr;
      reply_error(res, make_error(ErrorCode::kInternal, "internal error"));
    }
    return;
  }
  if (path_known) {
    std::string allow;
    for (const auto& route : routes_) {
      if (route.path == req.path) allow += (allow.empty() ? "" : ", ") + route.method;
    }
    res.headers.set("Allow", allow);
    reply_error(res, make_error(ErrorCode::kInvalidRequest,
                                "method " + req.method + " is not allowed on " + req.path + " (allowed: " + allow + ")",
                                "", "method_not_allowed"));
    res.status = 405;
    return;
  }
  reply_error(res, make_error(ErrorCode::kNotFound, "unknown path " + req.method + " " + req.path));
}

Result<int> HttpServer::bind() { return server_.bind(); }

void HttpServer::serve() {
  server_.serve();
  std::lock_guard lock(served_mutex_);
  served_ = true;
  served_cv_.notify_all();
}

void HttpServer::stop(std::chrono::milliseconds grace) {
  shutdown_.begin_draining();
  // Idle keep-alive connections close now, the others once their request is
  // answered; serve() returns when the last one has.
  server_.stop();
  std::unique_lock lock(served_mutex_);
  if (served_cv_.wait_for(lock, grace, [&] { return served_; })) return;
  log::warn("server.grace_expired").kv("grace_ms", static_cast<int64_t>(grace.count()));
  shutdown_.cut_off();
  served_cv_.wait(lock, [&] { return served_; });
}

}  // namespace dsgw::daemon
