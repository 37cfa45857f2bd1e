// Reads HF tokenizer.json and tokenizer_config.json into a TokenizerSpec,
// refusing what the engine does not implement rather than tokenising wrongly.
//
// Supported tokenizer.json: model BPE (merges as "a b" strings or ["a","b"]
// pairs, no dropout/byte_fallback/subword affixes, optional ignore_merges);
// normalizer null, NFC, or a Sequence of those; pre_tokenizer a Sequence of
// Split(Regex, Isolated, invert false) with a known regex (pretokenizer.h)
// and ByteLevel(add_prefix_space false, use_regex false); decoder ByteLevel.
// The post_processor is ignored: BOS is the chat template's job.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/local/tokenizer/added_tokens.h"
#include "backends/local/tokenizer/bpe.h"
#include "backends/local/tokenizer/pretokenizer.h"
#include "common/status.h"

namespace dsgw::local {

struct TokenizerSpec {
  BpeModel::Spec bpe;
  std::vector<AddedToken> added_tokens;
  bool nfc = false;
  SplitPattern split = SplitPattern::kQwen2;
  // From tokenizer_config.json, when given.
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  std::string chat_template;
};

// Parses tokenizer.json text; `source` (a file name) prefixes every error.
Result<TokenizerSpec> parse_tokenizer_json(std::string_view json_text, const std::string& source);

// Adds tokenizer_config.json's bos_token, eos_token and chat_template to `spec`.
Status parse_tokenizer_config(std::string_view json_text, const std::string& source, TokenizerSpec& spec);

}  // namespace dsgw::local
