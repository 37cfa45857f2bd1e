#include "backends/local/tokenizer/tokenizer_json.h"

#include <nlohmann/json.hpp>

namespace dsgw::local {
namespace {

using nlohmann::json;

Error spec_error(const std::string& source, const std::string& what) {
  return make_error(ErrorCode::kInvalidRequest, source + ": " + what);
}

std::string type_of(const json& j) {
  if (j.is_object() && j.contains("type") && j["type"].is_string()) return j["type"].get<std::string>();
  return {};
}

bool flag(const json& obj, const char* key, bool fallback) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  return it->is_boolean() ? it->get<bool>() : fallback;
}

Status parse_normalizer(const json& n, const std::string& source, TokenizerSpec& spec) {
  if (n.is_null()) return Status::ok();
  const std::string type = type_of(n);
  if (type == "NFC") {
    spec.nfc = true;
    return Status::ok();
  }
  if (type == "Sequence" && n.contains("normalizers") && n["normalizers"].is_array()) {
    for (const json& child : n["normalizers"]) {
      if (Status s = parse_normalizer(child, source, spec); !s) return s;
    }
    return Status::ok();
  }
  return spec_error(source,
                    "unsupported normalizer " + n.dump() + " (supported: null, NFC, Sequence of NFC)");
}

Status parse_pre_tokenizer(const json& p, const std::string& source, TokenizerSpec& spec) {
  const std::string supported =
      " (supported: Sequence of Split(Regex, Isolated) and ByteLevel(add_prefix_space=false, "
      "use_regex=false))";
  if (type_of(p) != "Sequence" || !p.contains("pretokenizers") || !p["pretokenizers"].is_array() ||
      p["pretokenizers"].size() != 2) {
    return spec_error(source, "unsupported pre_tokenizer" + supported);
  }
  const json& split = p["pretokenizers"][0];
  const json& byte_level = p["pretokenizers"][1];
  if (type_of(split) != "Split" || !split.contains("pattern") || !split["pattern"].is_object() ||
      !split["pattern"].contains("Regex") || !split["pattern"]["Regex"].is_string()) {
    return spec_error(source, "unsupported pre_tokenizer: first step is not a Split on a Regex" + supported);
  }
  if (split.value("behavior", std::string()) != "Isolated" || flag(split, "invert", false)) {
    return spec_error(source,
                      "unsupported pre_tokenizer: Split must have behavior Isolated and invert false");
  }
  auto pattern = split_pattern_from_regex(split["pattern"]["Regex"].get<std::string>());
  if (!pattern) return spec_error(source, pattern.error().message);
  spec.split = *pattern;
  if (type_of(byte_level) != "ByteLevel" || flag(byte_level, "add_prefix_space", false) ||
      flag(byte_level, "use_regex", true)) {
    return spec_error(source,
                      "unsupported pre_tokenizer: second step is not ByteLevel with "
                      "add_prefix_space=false and use_regex=false");
  }
  return Status::ok();
}

Status parse_model(const json& m, const std::string& source, TokenizerSpec& spec) {
  if (!m.is_object()) return spec_error(source, "no \"model\" object");
  const std::string type = type_of(m);
  if (!type.empty() && type != "BPE")
    return spec_error(source, "unsupported model type '" + type + "' (only BPE)");
  if (!m.contains("vocab") || !m["vocab"].is_object())
    return spec_error(source, "model has no \"vocab\" object");
  if (!m.contains("merges") || !m["merges"].is_array())
    return spec_error(source, "model has no \"merges\" array");
  if (auto d = m.find("dropout");
      d != m.end() && !d->is_null() && !(d->is_number() && d->get<double>() == 0.0)) {
    return spec_error(source, "BPE dropout is not supported");
  }
  if (flag(m, "byte_fallback", false)) return spec_error(source, "BPE byte_fallback is not supported");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (auto it = m.find(key); it != m.end() && it->is_string() && !it->get<std::string>().empty()) {
      return spec_error(source, std::string("BPE ") + key + " is not supported");
    }
  }
  spec.bpe.ignore_merges = flag(m, "ignore_merges", false);

  spec.bpe.vocab.reserve(m["vocab"].size());
  for (const auto& [token, id] : m["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
      return spec_error(source, "vocab entry '" + token + "' has no valid id");
    }
    spec.bpe.vocab.emplace_back(token, static_cast<TokenId>(id.get<int64_t>()));
  }
  const json& merges = m["merges"];
  spec.bpe.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& merge = merges[i];
    if (merge.is_string()) {  // "a b" (tokenizers < 0.20)
      const std::string s = merge.get<std::string>();
      const size_t space = s.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == s.size() ||
          s.find(' ', space + 1) != std::string::npos) {
        return spec_error(
            source, "merge " + std::to_string(i) + " '" + s + "' is not two tokens separated by a space");
      }
      spec.bpe.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      spec.bpe.merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
    } else {
      return spec_error(source, "merge " + std::to_string(i) + " is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
  return Status::ok();
}

Status parse_added_tokens(const json& list, const std::string& source, TokenizerSpec& spec) {
  if (list.is_null()) return Status::ok();
  if (!list.is_array()) return spec_error(source, "\"added_tokens\" is not an array");
  for (const json& t : list) {
    if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content") ||
        !t["content"].is_string() || t["content"].get<std::string>().empty()) {
      return spec_error(source, "added token " + t.dump() + " lacks an id or content");
    }
    const int64_t id = t["id"].get<int64_t>();
    if (id < 0 || id > INT32_MAX) return spec_error(source, "added token " + t.dump() + " has an invalid id");
    AddedToken token;
    token.id = static_cast<TokenId>(id);
    token.content = t["content"].get<std::string>();
    token.special = flag(t, "special", false);
    // HF's default: special tokens are not normalised, others are.
    token.normalized = flag(t, "normalized", !token.special);
    token.lstrip = flag(t, "lstrip", false);
    token.rstrip = flag(t, "rstrip", false);
    token.single_word = flag(t, "single_word", false);
    spec.added_tokens.push_back(std::move(token));
  }
  return Status::ok();
}

// "bos_token": "<s>" or {"content": "<s>", ...} (an AddedToken) or null.
std::optional<std::string> token_field(const json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    return (*it)["content"].get<std::string>();
  }
  return std::nullopt;
}

// The file's top-level JSON object.
Result<json> parse_object(std::string_view json_text, const std::string& source) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    return spec_error(source, std::string("not valid JSON: ") + e.what());
  }
  if (!root.is_object()) return spec_error(source, "not a JSON object");
  return root;
}

}  // namespace

Result<TokenizerSpec> parse_tokenizer_json(std::string_view json_text, const std::string& source) {
  auto parsed = parse_object(json_text, source);
  if (!parsed) return parsed.error();
  const json& root = *parsed;
  TokenizerSpec spec;
  try {
    static const json kNull;
    auto model = root.find("model");
    if (Status s = parse_model(model != root.end() ? *model : kNull, source, spec); !s) return s.error();
    if (Status s = parse_normalizer(root.value("normalizer", json()), source, spec); !s) return s.error();
    if (Status s = parse_pre_tokenizer(root.value("pre_tokenizer", json()), source, spec); !s)
      return s.error();
    const json decoder = root.value("decoder", json());
    if (type_of(decoder) != "ByteLevel") {
      return spec_error(source, "unsupported decoder " + decoder.dump() + " (only ByteLevel)");
    }
    if (Status s = parse_added_tokens(root.value("added_tokens", json()), source, spec); !s) return s.error();
  } catch (const json::exception& e) {
    return spec_error(source, std::string("unexpected structure: ") + e.what());
  }
  return spec;
}

Status parse_tokenizer_config(std::string_view json_text, const std::string& source, TokenizerSpec& spec) {
  auto parsed = parse_object(json_text, source);
  if (!parsed) return parsed.error();
  const json& root = *parsed;
  spec.bos_token = token_field(root, "bos_token");
  spec.eos_token = token_field(root, "eos_token");
  if (auto it = root.find("chat_template"); it != root.end()) {
    if (it->is_string()) {
      spec.chat_template = it->get<std::string>();
    } else if (it->is_array()) {  // [{"name": "default", "template": "..."}, ...]
      for (const json& entry : *it) {
        if (entry.is_object() && entry.value("name", std::string()) == "default" &&
            entry.contains("template") && entry["template"].is_string()) {
          spec.chat_template = entry["template"].get<std::string>();
        }
      }
    }
  }
  return Status::ok();
}

}  // namespace dsgw::local
