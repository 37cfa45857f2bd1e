#include "daemon/tokenize_handlers.h"


#include <nlohmann/json.hpp>

#include "backends/local/engine/local_backend.h"
#include "common/utf8.h"
#include "daemon/http_replies.h"

namespace dsgw::daemon {
namespace {

using nlohmann::json;

Error bad(const std::string& message, const std::string& param = {}) {
  return make_error(ErrorCode::kInvalidRequest, message, param, "invalid_value");
}

// Authenticates and parses the body; on failure replies and returns nullopt.
std::optional<json> read_body(const LiveConfig& live, const http::Request& req, http::Response& res) {
  if (auto tenant = live.table->authenticator.authenticate(bearer_token(req)); !tenant) {
    reply_error(res, tenant.error());
    return std::nullopt;
  }
  if (!utf8::is_valid(req.body)) {
    reply_error(res, make_error(ErrorCode::kInvalidRequest, "the request body is not valid UTF-8", "", "invalid_utf8"));
    return std::nullopt;
  }
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) {
    reply_error(res, make_error(ErrorCode::kInvalidRequest, "the request body must be a JSON object", "", "invalid_json"));
    return std::nullopt;
  }
  return body;
}

// The local backend named by the body's "model", or the first loaded one.
const local::LocalBackend* find_local(const LiveConfig& live, const json& body, http::Response& res) {
  const auto model = body.find("model");
  if (model != body.end() && !model->is_string()) {
    reply_error(res, bad("'model' must be a string", "model"));
    return nullptr;
  }
  for (const auto& b : live.table->backends) {
    const auto* local = dynamic_cast<const local::LocalBackend*>(b.get());
    if (!local || !local->tokenizer()) continue;
    const auto& names = local->info().models;
    if (model == body.end() || std::find(names.begin(), names.end(), model->get<std::string>()) != names.end()) {
      set_header(res, kBackendHeader, local->info().name);
      return local;
    }
  }
  reply_error(res, make_error(ErrorCode::kNotFound, "no loaded local model can tokenize for this request", "model",
                              "model_not_found"));
  return nullptr;
}

}  // namespace

void handle_tokenize(const LiveConfig& live, const http::Request& req, http::Response& res) {
  auto body = read_body(live, req, res);
  if (!body) return;
  const auto content = body->find("content");
  if (content == body->end() || !content->is_string()) {
    return reply_error(res, bad("'content' must be a string", "content"));
  }
  const auto add_special = body->find("add_special");
  if (add_special != body->end() && !add_special->is_boolean()) {
    return reply_error(res, bad("'add_special' must be a boolean", "add_special"));
  }
  const local::LocalBackend* backend = find_local(live, *body, res);
  if (!backend) return;
  const local::Tokenizer& tokenizer = *backend->tokenizer();
  auto ids = tokenizer.encode(content->get<std::string>(), /*parse_special=*/true);
  if (!ids) return reply_error(res, ids.error());
  json tokens = json::array();
  if (add_special != body->end() && add_special->get<bool>()) {
    if (auto bos = tokenizer.bos_id()) tokens.push_back(*bos);
  }
  for (auto id : *ids) tokens.push_back(id);
  reply_json(res, 200, json{{"tokens", std::move(tokens)}}.dump());
}

void handle_detokenize(const LiveConfig& live, const http::Request& req, http::Response& res) {
  auto body = read_body(live, req, res);
  if (!body) return;
  const auto tokens = body->find("tokens");
  if (tokens == body->end() || !tokens->is_array()) {
    return reply_error(res, bad("'tokens' must be an array of token ids", "tokens"));
  }
  std::vector<local::TokenId> ids;
  for (const auto& t : *tokens) {
    if (!t.is_number_integer()) return reply_error(res, bad("'tokens' must be an array of token ids", "tokens"));
    ids.push_back(t.get<local::TokenId>());
  }
  const local::LocalBackend* backend = find_local(live, *body, res);
  if (!backend) return;
  auto text = backend->tokenizer()->decode(ids);
  if (!text) return reply_error(res, bad(text.error().message, "tokens"));
  reply_json(res, 200, json{{"content", *text}}.dump(-1, ' ', false, json::error_handler_t::replace));
}

}  // namespace dsgw::daemon
