// The Split pre-tokenizer of byte-level BPE tokenizers, with the regex
// implemented by hand (std::regex has no Unicode classes and is slow). Only
// the patterns below are supported; tokenizer.json names its regex and
// split_pattern_from_regex() picks the matching splitter or refuses.
//
// Qwen2 (and DeepSeek-R1-Distill-Qwen):
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// Llama-3 (and DeepSeek-R1-Distill-Llama): the same with \p{N}{1,3}.
//
// Semantics are those of the regex engines HF tokenizers uses (Oniguruma,
// Rust `regex`): \s is Unicode White_Space, \p{L} and \p{N} are general
// categories, and (?i:'s) also matches "'ſ" (U+017F folds to s).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace dsgw::local {

enum class SplitPattern {
  kQwen2,   // digits one at a time
  kLlama3,  // digits in runs of up to three
};

// The splitter for `regex` (as written in tokenizer.json), or an error naming
// the supported patterns.
Result<SplitPattern> split_pattern_from_regex(std::string_view regex);

// The regex a splitter implements.
std::string_view split_pattern_regex(SplitPattern pattern);

// Appends to `pieces` the consecutive matches of the pattern in `text` (valid
// UTF-8), which cover all of it (behaviour "Isolated"). The views point into
// `text`.
void pre_tokenize(SplitPattern pattern, std::string_view text, std::vector<std::string_view>& pieces);

}  // namespace dsgw::local
