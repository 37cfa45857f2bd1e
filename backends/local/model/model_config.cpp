#include "backends/local/model/model_config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace dsgw::local {
namespace {

using json = nlohmann::json;

class Reader {
 public:
  Reader(const json& doc, const std::string& source) : doc_(doc), source_(source) {}

  Error error(const std::string& key, const std::string& what) const {
    return make_error(ErrorCode::kUnavailable, source_ + ": " + key + ": " + what);
  }

  // Required positive integer.
  Result<std::int64_t> positive(const std::string& key) const {
    auto it = doc_.find(key);
    if (it == doc_.end() || it->is_null()) return error(key, "missing");
    if (!it->is_number_integer() || it->get<std::int64_t>() <= 0)
      return error(key, "must be a positive integer");
    return it->get<std::int64_t>();
  }
  Result<double> number(const std::string& key, double fallback) const {
    auto it = doc_.find(key);
    if (it == doc_.end() || it->is_null()) return fallback;
    if (!it->is_number()) return error(key, "must be a number");
    return it->get<double>();
  }
  Result<bool> boolean(const std::string& key, bool fallback) const {
    auto it = doc_.find(key);
    if (it == doc_.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) return error(key, "must be true or false");
    return it->get<bool>();
  }
  Result<std::string> string(const std::string& key, const std::string& fallback) const {
    auto it = doc_.find(key);
    if (it == doc_.end() || it->is_null()) return fallback;
    if (!it->is_string()) return error(key, "must be a string");
    return it->get<std::string>();
  }
  std::optional<std::int64_t> first_int(const std::string& key) const {
    auto it = doc_.find(key);
    if (it == doc_.end()) return std::nullopt;
    if (it->is_number_integer()) return it->get<std::int64_t>();
    if (it->is_array() && !it->empty() && (*it)[0].is_number_integer()) return (*it)[0].get<std::int64_t>();
    return std::nullopt;
  }

  const std::string& source() const { return source_; }

 private:
  const json& doc_;
  const std::string& source_;
};

#define DSGW_ASSIGN(lhs, expr)   \
  do {                           \
    auto r_ = (expr);            \
    if (!r_) return r_.error();  \
    lhs = std::move(r_).value(); \
  } while (0)

// nullopt for rope_type "default" (no scaling).
Result<std::optional<Llama3RopeScaling>> parse_rope_scaling(const json& rs, const Reader& top) {
  if (!rs.is_object()) return top.error("rope_scaling", "must be an object or null");
  std::string type;
  if (auto t = rs.find("rope_type"); t != rs.end() && t->is_string()) {
    type = t->get<std::string>();
  } else if (auto t2 = rs.find("type"); t2 != rs.end() && t2->is_string()) {
    type = t2->get<std::string>();
  }
  if (type == "default") return std::optional<Llama3RopeScaling>();
  if (type != "llama3") {
    return top.error("rope_scaling", "rope_type '" + type + "' is not supported (only llama3)");
  }
  std::string source = top.source() + ": rope_scaling";
  Reader r(rs, source);
  Llama3RopeScaling s;
  DSGW_ASSIGN(s.factor, r.number("factor", 0));
  DSGW_ASSIGN(s.low_freq_factor, r.number("low_freq_factor", 0));
  DSGW_ASSIGN(s.high_freq_factor, r.number("high_freq_factor", 0));
  DSGW_ASSIGN(s.original_max_position_embeddings, r.positive("original_max_position_embeddings"));
  if (!(s.factor > 0) || !(s.low_freq_factor > 0) || !(s.high_freq_factor > s.low_freq_factor)) {
    return top.error("rope_scaling", "llama3 needs factor > 0 and high_freq_factor > low_freq_factor > 0");
  }
  return std::optional<Llama3RopeScaling>(s);
}

}  // namespace

Result<ModelConfig> parse_model_config(const std::string& text, const std::string& source) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    return make_error(ErrorCode::kUnavailable, source + ": invalid JSON: " + e.what());
  }
  if (!doc.is_object()) return make_error(ErrorCode::kUnavailable, source + ": not a JSON object");
  Reader r(doc, source);
  ModelConfig c;

  auto arch = doc.find("architectures");
  if (arch == doc.end() || !arch->is_array() || arch->size() != 1 || !(*arch)[0].is_string()) {
    return r.error("architectures", "must be a list with one name");
  }
  c.architecture_name = (*arch)[0].get<std::string>();
  if (c.architecture_name == "Qwen2ForCausalLM") {
    c.architecture = Architecture::kQwen2;
  } else if (c.architecture_name == "LlamaForCausalLM") {
    c.architecture = Architecture::kLlama;
  } else {
    return r.error("architectures", "unsupported architecture '" + c.architecture_name +
                                        "' (supported: Qwen2ForCausalLM, LlamaForCausalLM)");
  }

  DSGW_ASSIGN(c.hidden_size, r.positive("hidden_size"));
  DSGW_ASSIGN(c.num_layers, r.positive("num_hidden_layers"));
  DSGW_ASSIGN(c.num_heads, r.positive("num_attention_heads"));
  if (doc.contains("num_key_value_heads") && !doc["num_key_value_heads"].is_null()) {
    DSGW_ASSIGN(c.num_kv_heads, r.positive("num_key_value_heads"));
  } else {
    c.num_kv_heads = c.num_heads;
  }
  if (doc.contains("head_dim") && !doc["head_dim"].is_null()) {
    DSGW_ASSIGN(c.head_dim, r.positive("head_dim"));
  } else {
    if (c.hidden_size % c.num_heads != 0)
      return r.error("hidden_size", "not a multiple of num_attention_heads");
    c.head_dim = c.hidden_size / c.num_heads;
  }
  if (c.num_heads % c.num_kv_heads != 0) {
    return r.error("num_key_value_heads", "must divide num_attention_heads");
  }
  if (c.head_dim % 2 != 0) return r.error("head_dim", "must be even for rotary embeddings");
  DSGW_ASSIGN(c.intermediate_size, r.positive("intermediate_size"));
  DSGW_ASSIGN(c.vocab_size, r.positive("vocab_size"));
  DSGW_ASSIGN(c.max_position_embeddings, r.positive("max_position_embeddings"));
  DSGW_ASSIGN(c.rope_theta, r.number("rope_theta", 10000.0));
  if (!(c.rope_theta > 1.0)) return r.error("rope_theta", "must be > 1");
  DSGW_ASSIGN(c.rms_norm_eps, r.number("rms_norm_eps", 1e-6));
  if (!(c.rms_norm_eps > 0)) return r.error("rms_norm_eps", "must be > 0");
  DSGW_ASSIGN(c.tie_word_embeddings, r.boolean("tie_word_embeddings", false));
  DSGW_ASSIGN(c.torch_dtype, r.string("torch_dtype", ""));

  std::string act;
  DSGW_ASSIGN(act, r.string("hidden_act", "silu"));
  if (act != "silu") return r.error("hidden_act", "'" + act + "' is not supported (only silu)");

  if (c.architecture == Architecture::kQwen2) {
    c.attention_bias = true;
    bool sliding = false;
    DSGW_ASSIGN(sliding, r.boolean("use_sliding_window", false));
    if (sliding) return r.error("use_sliding_window", "sliding-window attention is not supported");
  } else {
    DSGW_ASSIGN(c.attention_bias, r.boolean("attention_bias", false));
    bool mlp_bias = false;
    DSGW_ASSIGN(mlp_bias, r.boolean("mlp_bias", false));
    if (mlp_bias) return r.error("mlp_bias", "MLP biases are not supported");
  }

  if (auto rs = doc.find("rope_scaling"); rs != doc.end() && !rs->is_null()) {
    DSGW_ASSIGN(c.rope_scaling, parse_rope_scaling(*rs, r));
  }
  c.bos_token_id = r.first_int("bos_token_id");
  c.eos_token_id = r.first_int("eos_token_id");
  return c;
}

Result<ModelConfig> load_model_config(const std::filesystem::path& dir) {
  const auto path = dir / "config.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, path.string() + ": cannot read (missing file?)");
  std::stringstream buf;
  buf << in.rdbuf();
  return parse_model_config(buf.str(), path.string());
}

}  // namespace dsgw::local
