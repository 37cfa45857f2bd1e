#include "backends/local/tokenizer/tokenizer.h"

#include <fstream>
#include <sstream>
#include <unordered_map>

#include "backends/local/tokenizer/bpe.h"
#include "backends/local/tokenizer/byte_level.h"
#include "backends/local/tokenizer/nfc.h"
#include "backends/local/tokenizer/pretokenizer.h"
#include "backends/local/tokenizer/tokenizer_json.h"
#include "backends/local/tokenizer/utf8_codec.h"

namespace dsgw::local {
namespace {

Result<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, path.string() + ": cannot open tokenizer file");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return make_error(ErrorCode::kInvalidRequest, path.string() + ": read error");
  return std::move(buf).str();
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

enum TokenFlags : uint8_t { kPresent = 1, kAdded = 2, kSpecial = 4 };

constexpr size_t kMaxTextBytes = size_t{1} << 31;

}  // namespace

struct Tokenizer::Impl {
  std::unique_ptr<BpeModel> bpe;
  std::vector<AddedToken> added;
  AddedTokenMatcher raw_matcher;         // normalized=false tokens, matched in the input
  AddedTokenMatcher normalized_matcher;  // normalized=true tokens, matched after NFC
  bool nfc = false;
  SplitPattern split = SplitPattern::kQwen2;

  std::vector<std::string> tokens;  // id -> vocab spelling / added content
  std::vector<std::string> bytes;   // id -> decoded bytes
  std::vector<uint8_t> flags;       // id -> TokenFlags
  std::unordered_map<std::string, TokenId, StringHash, std::equal_to<>> ids;

  std::optional<TokenId> bos;
  std::optional<TokenId> eos;
  std::string chat_template;

  void encode_plain(std::string_view text, std::vector<TokenId>& out) const {
    std::vector<std::string_view> pieces;
    pre_tokenize(split, text, pieces);
    for (std::string_view piece : pieces) bpe->encode_piece(piece, out);
  }

  // Splits `text` at the matcher's tokens and encodes each part with `encode`.
  template <class EncodeText>
  void encode_around(const AddedTokenMatcher& matcher, std::string_view text, std::vector<TokenId>& out,
                     EncodeText&& encode) const {
    std::vector<AddedTokenMatcher::Match> matches;
    matcher.find_all(text, matches);
    size_t pos = 0;
    for (const auto& m : matches) {
      encode(text.substr(pos, m.begin - pos));
      out.push_back(m.token->id);
      pos = m.end;
    }
    encode(text.substr(pos));
  }

  void encode_segment(std::string_view text, bool parse_special, std::vector<TokenId>& out) const {
    if (text.empty()) return;
    std::string normalized;
    if (nfc && !is_nfc_quick_yes(text)) {
      normalized = nfc_normalize(text);
      text = normalized;
    }
    if (parse_special && !normalized_matcher.empty()) {
      encode_around(normalized_matcher, text, out, [&](std::string_view part) { encode_plain(part, out); });
    } else {
      encode_plain(text, out);
    }
  }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Result<Tokenizer> Tokenizer::load(const std::filesystem::path& dir) {
  const auto config = dir / "tokenizer_config.json";
  std::error_code ec;
  return load_files(dir / "tokenizer.json", std::filesystem::exists(config, ec) ? config : std::filesystem::path());
}

Result<Tokenizer> Tokenizer::load_files(const std::filesystem::path& tokenizer_json,
                                        const std::filesystem::path& tokenizer_config) {
  auto json_text = read_file(tokenizer_json);
  if (!json_text) return json_text.error();
  auto spec = parse_tokenizer_json(*json_text, tokenizer_json.string());
  if (!spec) return spec.error();
  json_text = std::string();  // free the text before building the model
  std::string config_source;
  if (!tokenizer_config.empty()) {
    auto config_text = read_file(tokenizer_config);
    if (!config_text) return config_text.error();
    config_source = tokenizer_config.string();
    if (Status s = parse_tokenizer_config(*config_text, config_source, *spec); !s) return s.error();
  }
  return from_spec(std::move(*spec), tokenizer_json.string(), config_source);
}

Result<Tokenizer> Tokenizer::from_json(std::string_view tokenizer_json, std::string_view tokenizer_config,
                                       const std::string& source) {
  auto spec = parse_tokenizer_json(tokenizer_json, source);
  if (!spec) return spec.error();
  const std::string config_source = "tokenizer_config.json";
  if (!tokenizer_config.empty()) {
    if (Status s = parse_tokenizer_config(tokenizer_config, config_source, *spec); !s) return s.error();
  }
  return from_spec(std::move(*spec), source, config_source);
}

Result<Tokenizer> Tokenizer::from_spec(TokenizerSpec&& spec, const std::string& source,
                                       const std::string& config_source) {
  auto impl = std::make_unique<Impl>();
  auto bpe = BpeModel::create(spec.bpe);
  if (!bpe) return make_error(ErrorCode::kInvalidRequest, source + ": " + bpe.error().message);
  impl->bpe = std::move(*bpe);
  impl->nfc = spec.nfc;
  impl->split = spec.split;
  impl->chat_template = std::move(spec.chat_template);

  TokenId max_id = -1;
  for (const auto& [token, id] : spec.bpe.vocab) max_id = std::max(max_id, id);
  for (const AddedToken& t : spec.added_tokens) max_id = std::max(max_id, t.id);
  const auto size = static_cast<size_t>(max_id + 1);
  impl->tokens.resize(size);
  impl->bytes.resize(size);
  impl->flags.assign(size, 0);
  impl->ids.reserve(spec.bpe.vocab.size() + spec.added_tokens.size());
  // HF's ByteLevel decoder: a token spelt in the byte-level alphabet decodes to
  // those bytes; any other (e.g. "<｜User｜>") to its own UTF-8.
  auto set_token = [&](TokenId id, const std::string& token, uint8_t flags) {
    const auto i = static_cast<size_t>(id);
    impl->tokens[i] = token;
    auto decoded = byte_level_decode(token);
    impl->bytes[i] = decoded ? std::move(*decoded) : token;
    impl->flags[i] = flags;
    impl->ids[token] = id;
  };
  for (auto& [token, id] : spec.bpe.vocab) set_token(id, token, kPresent);
  spec.bpe.vocab.clear();
  spec.bpe.vocab.shrink_to_fit();
  spec.bpe.merges.clear();
  spec.bpe.merges.shrink_to_fit();

  impl->added = std::move(spec.added_tokens);
  for (const AddedToken& t : impl->added) {
    set_token(t.id, t.content, kPresent | kAdded | (t.special ? kSpecial : 0));
  }
  // The matchers keep pointers into impl->added, which no longer changes.
  for (const AddedToken& t : impl->added) {
    (t.normalized && impl->nfc ? impl->normalized_matcher : impl->raw_matcher).add(t);
  }

  auto resolve = [&](const std::optional<std::string>& name, const char* key,
                     std::optional<TokenId>& out) -> Status {
    if (!name) return Status::ok();
    auto it = impl->ids.find(*name);
    if (it == impl->ids.end()) {
      return make_error(ErrorCode::kInvalidRequest,
                        config_source + ": " + key + " '" + *name + "' is not in the vocabulary of " + source);
    }
    out = it->second;
    return Status::ok();
  };
  if (Status s = resolve(spec.bos_token, "bos_token", impl->bos); !s) return s.error();
  if (Status s = resolve(spec.eos_token, "eos_token", impl->eos); !s) return s.error();
  return Tokenizer(std::move(impl));
}

Result<std::vector<TokenId>> Tokenizer::encode(std::string_view text, bool parse_special) const {
  // The pre-tokenizer keeps 32-bit offsets.
  if (text.size() > kMaxTextBytes) {
    return make_error(ErrorCode::kPayloadTooLarge, "text of " + std::to_string(text.size()) +
                                                       " bytes is too long to tokenize");
  }
  if (auto bad = utf8::first_invalid(text)) {
    return make_error(ErrorCode::kInvalidRequest,
                      "text is not valid UTF-8 at byte offset " + std::to_string(*bad));
  }
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 4);
  const Impl& impl = *impl_;
  if (parse_special && !impl.raw_matcher.empty()) {
    impl.encode_around(impl.raw_matcher, text, out,
                       [&](std::string_view part) { impl.encode_segment(part, true, out); });
  } else {
    impl.encode_segment(text, parse_special, out);
  }
  return out;
}

Result<std::string> Tokenizer::decode(std::span<const TokenId> ids, bool skip_special) const {
  std::string bytes;
  for (TokenId id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= impl_->flags.size() || !(impl_->flags[static_cast<size_t>(id)] & kPresent)) {
      return make_error(ErrorCode::kInvalidRequest, "token id " + std::to_string(id) + " is not in the vocabulary");
    }
    if (skip_special && (impl_->flags[static_cast<size_t>(id)] & kSpecial)) continue;
    bytes += impl_->bytes[static_cast<size_t>(id)];
  }
  std::string out;
  out.reserve(bytes.size());
  utf8::append_lossy(out, bytes);
  return out;
}

std::optional<std::string_view> Tokenizer::token_bytes(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->flags.size() || !(impl_->flags[static_cast<size_t>(id)] & kPresent)) {
    return std::nullopt;
  }
  return impl_->bytes[static_cast<size_t>(id)];
}

std::optional<TokenId> Tokenizer::token_to_id(std::string_view token) const {
  auto it = impl_->ids.find(token);
  if (it == impl_->ids.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string_view> Tokenizer::id_to_token(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->flags.size() || !(impl_->flags[static_cast<size_t>(id)] & kPresent)) {
    return std::nullopt;
  }
  return impl_->tokens[static_cast<size_t>(id)];
}

size_t Tokenizer::vocab_size() const { return impl_->flags.size(); }

bool Tokenizer::is_special(TokenId id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->flags.size() && (impl_->flags[static_cast<size_t>(id)] & kSpecial);
}

std::span<const AddedToken> Tokenizer::added_tokens() const { return impl_->added; }
std::optional<TokenId> Tokenizer::bos_id() const { return impl_->bos; }
std::optional<TokenId> Tokenizer::eos_id() const { return impl_->eos; }
const std::string& Tokenizer::chat_template() const { return impl_->chat_template; }

}  // namespace dsgw::local
