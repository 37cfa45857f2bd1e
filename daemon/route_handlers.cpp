#include "daemon/route_handlers.h"


#include <nlohmann/json.hpp>

#include "common/net_address.h"
#include "daemon/completion_handler.h"
#include "daemon/http_replies.h"
#include "policies/explain.h"

namespace dsgw::daemon {

void handle_route_explain(Runtime& runtime, const http::Request& req, http::Response& res) {
  auto request = read_request(req, router::Endpoint::kChat, request_id_of(res));
  if (!request) return reply_error(res, request.error());
  const auto live = runtime.current();
  auto route = runtime.pipeline().explain(std::move(request.value()), *live->table);
  if (!route) return reply_error(res, route.error());
  const auto& policy = *live->table->policy;
  nlohmann::json body = policies::explain_json(policy, route->facts, route->decision, route->states);
  body["config_revision"] = live->config.revision;
  set_header(res, kRuleHeader, route->decision.rule_id(policy));
  reply_json(res, 200, body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
}

void handle_admin_reload(Runtime& runtime, const http::Request& req, http::Response& res) {
  if (!is_loopback_host(req.remote_addr)) {
    return reply_error(res, make_error(ErrorCode::kNotFound, "POST /admin/reload is only served to loopback clients"));
  }
  if (Status s = runtime.reload("http"); !s) {
    return reply_error(res, make_error(ErrorCode::kUnprocessable, "reload rejected, the old config keeps serving:\n" +
                                                                      s.error().message, {}, "reload_rejected"));
  }
  const auto live = runtime.current();
  reply_json(res, 200, nlohmann::json{{"status", "reloaded"},
                                      {"config_revision", live->config.revision},
                                      {"policy_revision", live->table->policy->revision}}
                           .dump());
}

}  // namespace dsgw::daemon
