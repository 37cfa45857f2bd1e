// The local engine's tokenizer: byte-level BPE read from HF tokenizer.json
// (DeepSeek-R1-Distill-Qwen / Qwen2 and DeepSeek-R1-Distill-Llama / Llama-3
// vocabularies). Encoding matches HF tokenizers id for id: added tokens are
// found first (longest match), the rest is NFC-normalised when the file says
// so, split by the pre-tokenizer regex and merged by BPE.
//
// All const methods are thread-safe; the I/O threads tokenise concurrently.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backends/local/tokenizer/added_tokens.h"
#include "common/status.h"

namespace dsgw::local {

using TokenId = int32_t;
struct TokenizerSpec;

class Tokenizer {
 public:
  // Reads DIR/tokenizer.json and, when present, DIR/tokenizer_config.json.
  static Result<Tokenizer> load(const std::filesystem::path& dir);
  // Reads the given files; `tokenizer_config` may be empty (no BOS/EOS then).
  static Result<Tokenizer> load_files(const std::filesystem::path& tokenizer_json,
                                      const std::filesystem::path& tokenizer_config = {});
  // From file contents; `source` names the tokenizer.json in errors.
  static Result<Tokenizer> from_json(std::string_view tokenizer_json, std::string_view tokenizer_config = {},
                                     const std::string& source = "tokenizer.json");

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Token ids for `text`. With parse_special, added tokens written in the text
  // (special or not, e.g. "<｜User｜>" or "</think>") become their ids, as HF
  // does; without it every added token is ordinary text, which is what
  // untrusted content (a user's message) must get so that it cannot forge
  // turn markers. Never adds BOS. Invalid UTF-8 is an kInvalidRequest error
  // naming the byte offset.
  Result<std::vector<TokenId>> encode(std::string_view text, bool parse_special) const;

  // Text for `ids`. Added tokens decode to their content, or to nothing for
  // special ones when skip_special is set. Bytes that do not form valid UTF-8
  // (a character cut between ids) become U+FFFD, as in HF. An id outside the
  // vocabulary is an error.
  Result<std::string> decode(std::span<const TokenId> ids, bool skip_special = false) const;

  // The bytes token `id` decodes to, or nullopt for an unknown id.
  std::optional<std::string_view> token_bytes(TokenId id) const;

  // Vocabulary entries as spelt in tokenizer.json ("Ġhello"; an added token's
  // content), and back.
  std::optional<TokenId> token_to_id(std::string_view token) const;
  std::optional<std::string_view> id_to_token(TokenId id) const;

  // One more than the largest id (151665 for R1-Distill-Qwen, 128256 for
  // Llama-3.1); the model's embedding may have more rows (padding).
  size_t vocab_size() const;
  bool is_special(TokenId id) const;
  std::span<const AddedToken> added_tokens() const;

  // From tokenizer_config.json's bos_token / eos_token, when present.
  std::optional<TokenId> bos_id() const;
  std::optional<TokenId> eos_id() const;
  // tokenizer_config.json's chat_template (empty when absent).
  const std::string& chat_template() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  static Result<Tokenizer> from_spec(TokenizerSpec&& spec, const std::string& source,
                                     const std::string& config_source);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dsgw::local
