// Small hand-made tokenizer.json documents for the tokenizer's unit tests.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/local/tokenizer/byte_level.h"

namespace dsgw::local::testing {

// Ids of the extra tokens of tiny_tokenizer_json(): the 256 byte tokens come
// first (id == byte value), then these in order.
enum TinyId : int {
  kHe = 256, kLl, kHell, kHello, kSpaceW, kOr, kSpaceWor, kLd, kSpaceWorld, kAa,
  kAbc,  // in the vocab, not reachable by merges ("a b" and "ab c" are absent)
  kFirstAdded = 300,
};

inline std::string byte_token(unsigned char b) {
  std::string s;
  byte_level_encode(std::string_view(reinterpret_cast<const char*>(&b), 1), s);
  return s;
}

inline constexpr const char* kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
inline constexpr const char* kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct TinyOptions {
  bool pair_merges = false;  // ["a","b"] instead of "a b"
  bool nfc = true;
  bool ignore_merges = false;
  std::string regex = kQwen2Regex;
  nlohmann::json added_tokens = nlohmann::json::array();
};

inline nlohmann::json tiny_tokenizer(const TinyOptions& options = {}) {
  using nlohmann::json;
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_token(static_cast<unsigned char>(b))] = b;
  const std::vector<std::string> extra = {"he", "ll", "hell", "hello", "Ġw", "or", "Ġwor", "ld", "Ġworld", "aa", "abc"};
  for (size_t i = 0; i < extra.size(); ++i) vocab[extra[i]] = 256 + static_cast<int>(i);
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"Ġ", "w"},
      {"o", "r"}, {"Ġw", "or"}, {"l", "d"}, {"Ġwor", "ld"}, {"a", "a"}};
  json merge_list = json::array();
  for (const auto& [a, b] : merges) {
    merge_list.push_back(options.pair_merges ? json::array({a, b}) : json(a + " " + b));
  }
  json doc = {
      {"version", "1.0"},
      {"added_tokens", options.added_tokens},
      {"normalizer", options.nfc ? json{{"type", "NFC"}} : json()},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         json::array({{{"type", "Split"},
                       {"pattern", {{"Regex", options.regex}}},
                       {"behavior", "Isolated"},
                       {"invert", false}},
                      {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false},
                       {"use_regex", false}}})}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", ""},
        {"end_of_word_suffix", ""},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", options.ignore_merges},
        {"vocab", vocab},
        {"merges", merge_list}}},
  };
  return doc;
}

inline nlohmann::json added_token(int id, const std::string& content, bool special, bool lstrip = false,
                                  bool rstrip = false, bool single_word = false) {
  return {{"id", id},           {"content", content}, {"single_word", single_word}, {"lstrip", lstrip},
          {"rstrip", rstrip},   {"normalized", false}, {"special", special}};
}

// The tiny tokenizer with R1-style added tokens: 300 <｜end▁of▁sentence｜>
// (special), 301 <｜User｜>, 302 <think>, 303 </think>, 304 <｜begin▁of▁sentence｜>
// (special), 305 <thinking> (a longer token sharing a prefix).
inline nlohmann::json tiny_with_added(TinyOptions options = {}) {
  options.added_tokens = nlohmann::json::array({
      added_token(300, "<｜end▁of▁sentence｜>", true),
      added_token(301, "<｜User｜>", false),
      added_token(302, "<think>", false),
      added_token(303, "</think>", false),
      added_token(304, "<｜begin▁of▁sentence｜>", true),
      added_token(305, "<thinking>", false),
  });
  return tiny_tokenizer(options);
}

}  // namespace dsgw::local::testing
