#include "router/accounting.h"

#include <chrono>

#include "common/json_object_writer.h"
#include "common/log.h"
#include "policies/explain.h"
#include "router/pipeline.h"

namespace dsgw::router {
namespace {

int64_t unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Starts an audit line: who asked for what, and the decision.
void begin_audit_line(JsonObjectWriter& line, const Request& request, const RoutingTable& table, const Route& route) {
  line.number("ts_ms", unix_ms(std::chrono::system_clock::now()))
      .string("request_id", request.id)
      .string("tenant", request.tenant)
      .string("model", request.model);
  if (!request.device.empty()) line.string("device", request.device);
  policies::write_audit_members(line, *table.policy, route.decision);
  line.string("config_revision", table.revision);
}

// The name of the backend whose answer the client got, or "".
std::string served_name(const RoutingTable& table, const DispatchResult& result) {
  return result.served >= 0 ? table.backends[static_cast<size_t>(result.served)]->info().name : "";
}

}  // namespace

double actual_cost_usd(const RoutingTable& table, const DispatchResult& result,
                       std::chrono::system_clock::time_point at) {
  if (result.served < 0) return 0;
  const auto& pricing = table.policy->backends[static_cast<size_t>(result.served)].pricing;
  const Usage& u = result.usage;
  return policies::cost_usd(pricing, {u.prompt_tokens, u.cached_prompt_tokens, u.completion_tokens},
                            result.busy_seconds, at);
}

double settle(const Recorders& recorders, const Request& request, const RoutingTable& table, const Route& route,
              const DispatchResult& result) {
  const auto now = std::chrono::system_clock::now();
  const double cost = actual_cost_usd(table, result, now);
  const std::string backend = served_name(table, result);
  if (recorders.ledger && result.served >= 0) {
    LedgerEntry entry{request.id, route.budget_tenant, backend, request.model, now,
                      result.usage.prompt_tokens, result.usage.cached_prompt_tokens, result.usage.completion_tokens,
                      cost, result.outcome};
    if (Status s = recorders.ledger->record(entry); !s) {
      log::error("ledger.entry_refused").kv("request_id", request.id).kv("error", s.error().message);
    }
  }
  return cost;
}

void report(const Recorders& recorders, const Request& request, const RoutingTable& table, const Route& route,
            const DispatchResult& result, double cost) {
  const std::string backend = served_name(table, result);
  {
    using std::chrono::duration_cast;
    using std::chrono::milliseconds;
    auto line = log::info("request.done");
    line.kv("request_id", request.id)
        .kv("tenant", request.tenant)
        .kv("backend", backend.empty() ? std::string("none") : backend)
        .kv("rule", std::string(route.decision.rule_id(*table.policy)))
        .kv("data_class", table.policy->classes[static_cast<size_t>(route.decision.data_class)].name)
        .kv("model", request.model)
        .kv("stream", request.stream)
        .kv("outcome", result.outcome)
        .kv("attempts", static_cast<int64_t>(result.attempts.size()))
        .kv("prompt_tokens", result.usage.prompt_tokens)
        .kv("completion_tokens", result.usage.completion_tokens)
        .kv("cached_prompt_tokens", result.usage.cached_prompt_tokens)
        .kv("cost_usd", cost)
        .kv("duration_ms", static_cast<int64_t>(
                               duration_cast<milliseconds>(std::chrono::steady_clock::now() - request.received_at).count()));
    if (result.ttft_ms) line.kv("ttft_ms", static_cast<int64_t>(*result.ttft_ms));
    if (result.error) line.kv("error", result.error->message);
  }
  if (recorders.audit) {
    std::string text;
    {
      JsonObjectWriter line(text);
      begin_audit_line(line, request, table, route);
      std::string& attempts = line.member("attempts");
      attempts.push_back('[');
      for (size_t i = 0; i < result.attempts.size(); ++i) {
        const auto& a = result.attempts[i];
        if (i > 0) attempts.push_back(',');
        JsonObjectWriter(attempts)
            .string("backend", table.backends[static_cast<size_t>(a.backend)]->info().name)
            .string("outcome", a.outcome);
      }
      attempts.push_back(']');
      if (backend.empty()) {
        line.null("backend");
      } else {
        line.string("backend", backend);
      }
      line.string("outcome", result.outcome)
          .real("cost_usd", cost)
          .number("prompt_tokens", result.usage.prompt_tokens)
          .number("completion_tokens", result.usage.completion_tokens);
    }
    recorders.audit->write(std::move(text));
  }
}

void account(const Recorders& recorders, const Request& request, const RoutingTable& table, const Route& route,
             const DispatchResult& result) {
  report(recorders, request, table, route, result, settle(recorders, request, table, route, result));
}

void account_refusal(const Recorders& recorders, const Request& request, const RoutingTable& table,
                     const Route& route, std::string_view outcome) {
  if (!recorders.audit) return;
  std::string text;
  {
    JsonObjectWriter line(text);
    begin_audit_line(line, request, table, route);
    line.null("backend").string("outcome", "refused:" + std::string(outcome));
  }
  recorders.audit->write(std::move(text));
}

}  // namespace dsgw::router
