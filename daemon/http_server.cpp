#include "daemon/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>
#include <set>

#include "common/log.h"
#include "common/request_id.h"
#include "daemon/error_mapping.h"
#include "daemon/http_replies.h"
#include "daemon/open_sockets.h"
#include "daemon/route_handlers.h"
#ifdef DSGW_WITH_LOCAL_ENGINE
#include "daemon/tokenize_handlers.h"
#endif

namespace dsgw::daemon {
namespace {

using nlohmann::json;

// Errors httplib produces itself (unknown path, body over the limit, bad
// request line) get the same OpenAI shape as ours.
Error library_error(int status, const httplib::Request& req) {
  switch (status) {
    case 404: return make_error(ErrorCode::kNotFound, "unknown path " + req.method + " " + req.path);
    case 413: return make_error(ErrorCode::kPayloadTooLarge, "the request body exceeds the configured limit");
    case 405: return make_error(ErrorCode::kInvalidRequest, "method not allowed", "", "method_not_allowed");
    default: return make_error(ErrorCode::kInvalidRequest, "malformed HTTP request (" + std::to_string(status) + ")");
  }
}

void reply_models(const LiveConfig& live, const httplib::Request& req, httplib::Response& res) {
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

void reply_ready(const LiveConfig& live, bool draining, httplib::Response& res) {
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
    : runtime_(runtime), settings_(settings), completions_(runtime, shutdown_),
      server_(std::make_unique<httplib::Server>()) {
  const int workers = settings_.workers;
  server_->new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  auto secs = [](std::chrono::milliseconds ms) { return std::chrono::duration<double>(ms).count(); };
  server_->set_read_timeout(std::chrono::milliseconds(settings_.read_timeout));
  server_->set_write_timeout(std::chrono::milliseconds(settings_.write_timeout));
  server_->set_keep_alive_timeout(std::max<time_t>(1, static_cast<time_t>(secs(settings_.idle_timeout))));
  server_->set_payload_max_length(static_cast<size_t>(settings_.max_body_bytes));
  server_->set_keep_alive_max_count(10000);
  server_->set_tcp_nodelay(true);
  install_routes();
}

HttpServer::~HttpServer() = default;

void HttpServer::install_routes() {
  auto& s = *server_;
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    set_header(res, kRequestIdHeader, new_request_id());
    set_header(res, kBackendHeader, "none");
    std::lock_guard lock(busy_mutex_);
    busy_.emplace(req.remote_addr, req.remote_port);
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // httplib calls its logger once a response is fully written, streams too.
  s.set_logger([this](const httplib::Request& req, const httplib::Response&) {
    std::lock_guard lock(busy_mutex_);
    if (auto it = busy_.find({req.remote_addr, req.remote_port}); it != busy_.end()) busy_.erase(it);
  });
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req,
                                                              httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (request_id_of(res).empty()) set_header(res, kRequestIdHeader, new_request_id());
    if (!res.has_header(kBackendHeader)) set_header(res, kBackendHeader, "none");
    const int status = res.status;
    reply_error(res, library_error(status, req));
    res.status = status;
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log::error("http.exception").kv("request_id", request_id_of(res)).kv("error", what);
    reply_error(res, make_error(ErrorCode::kInternal, "internal error"));
  });

  s.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    completions_.handle(req, res, router::Endpoint::kChat);
  });
  s.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    completions_.handle(req, res, router::Endpoint::kCompletion);
  });
  s.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
    reply_models(*runtime_.current(), req, res);
  });
#ifdef DSGW_WITH_LOCAL_ENGINE
  s.Post("/tokenize", [this](const httplib::Request& req, httplib::Response& res) {
    handle_tokenize(*runtime_.current(), req, res);
  });
  s.Post("/detokenize", [this](const httplib::Request& req, httplib::Response& res) {
    handle_detokenize(*runtime_.current(), req, res);
  });
#endif
  s.Post("/v1/route/explain", [this](const httplib::Request& req, httplib::Response& res) {
    handle_route_explain(runtime_, req, res);
  });
  s.Post("/admin/reload", [this](const httplib::Request& req, httplib::Response& res) {
    handle_admin_reload(runtime_, req, res);
  });
  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    reply_json(res, 200, R"({"status":"ok"})");
  });
  s.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    reply_ready(*runtime_.current(), shutdown_.draining(), res);
  });
}

Result<int> HttpServer::bind() {
  const std::string& host = settings_.host;
  int port = settings_.port;
  if (port == 0) {
    port = server_->bind_to_any_port(host);
    if (port < 0) port = 0;
  } else if (!server_->bind_to_port(host, port)) {
    port = 0;
  }
  if (port == 0) {
    return make_error(ErrorCode::kUnavailable, "cannot listen on " + host + ":" + std::to_string(settings_.port) +
                                                   ": " + std::strerror(errno));
  }
  port_ = port;
  if (!set_listen_backlog(port, SOMAXCONN)) {
    log::warn("server.backlog_unchanged").kv("reason", "listening socket not found; the accept backlog stays 5");
  }
  return port;
}

void HttpServer::serve() {
  server_->listen_after_bind();
  std::lock_guard lock(served_mutex_);
  served_ = true;
  served_cv_.notify_all();
}

void HttpServer::close_idle_connections() {
  std::lock_guard lock(busy_mutex_);
  for_each_connected_socket([&](const SocketEndpoints& s) {
    if (s.local_port == port_ && !busy_.count({s.peer_host, s.peer_port})) ::shutdown(s.fd, SHUT_RDWR);
    return true;
  });
}

void HttpServer::stop(std::chrono::milliseconds grace) {
  shutdown_.begin_draining();
  // httplib's stop() does nothing until serve() has entered its accept loop,
  // which a signal right after start can beat.
  for (int i = 0; i < 5000 && !server_->is_running(); ++i) {
    std::unique_lock lock(served_mutex_);
    if (served_cv_.wait_for(lock, std::chrono::milliseconds(1), [&] { return served_; })) return;
  }
  server_->stop();
  // Requests in flight go on; idle keep-alive connections, and those whose
  // request has finished, are closed so that their threads can end.
  const auto deadline = std::chrono::steady_clock::now() + grace;
  std::unique_lock lock(served_mutex_);
  while (!served_) {
    lock.unlock();
    close_idle_connections();
    lock.lock();
    if (served_cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return served_; })) break;
    if (!shutdown_.is_cut_off() && std::chrono::steady_clock::now() >= deadline) {
      log::warn("server.grace_expired").kv("grace_ms", static_cast<int64_t>(grace.count()));
      shutdown_.cut_off();
    }
  }
}

}  // namespace dsgw::daemon
