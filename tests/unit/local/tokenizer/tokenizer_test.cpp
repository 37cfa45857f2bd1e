#include "backends/local/tokenizer/tokenizer.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <unistd.h>

#include "backends/local/tokenizer/nfc.h"
#include "backends/local/tokenizer/utf8_codec.h"
#include "tests/unit/local/tokenizer/test_tokenizers.h"

namespace dsgw::local {
namespace {

using testing::TinyOptions;
using Ids = std::vector<TokenId>;

Tokenizer make(const nlohmann::json& doc, const std::string& config = {}) {
  auto tok = Tokenizer::from_json(doc.dump(), config);
  REQUIRE_MESSAGE(tok.has_value(), (tok.has_value() ? "" : tok.error().message));
  return std::move(tok).value();
}

Ids encode(const Tokenizer& tok, std::string_view text, bool parse_special = true) {
  auto ids = tok.encode(text, parse_special);
  REQUIRE_MESSAGE(ids.has_value(), (ids.has_value() ? "" : ids.error().message));
  return *ids;
}

std::string decode(const Tokenizer& tok, const Ids& ids, bool skip_special = false) {
  auto text = tok.decode(ids, skip_special);
  REQUIRE(text.has_value());
  return *text;
}

Ids bytes_of(std::string_view s) {
  Ids ids;
  for (char c : s) ids.push_back(static_cast<unsigned char>(c));
  return ids;
}

// A scratch directory removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() / ("dsgw_tok_test_" + std::to_string(::getpid()) + "_" +
                                                     std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::filesystem::path write(const std::string& name, const std::string& content) const {
    std::ofstream(path / name, std::ios::binary) << content;
    return path / name;
  }
};

TEST_CASE("merges given as \"a b\" strings and as [a, b] pairs encode alike") {
  TinyOptions strings_form;
  TinyOptions pairs_form;
  pairs_form.pair_merges = true;
  const Tokenizer a = make(testing::tiny_tokenizer(strings_form));
  const Tokenizer b = make(testing::tiny_tokenizer(pairs_form));
  for (std::string_view text : {"hello world", "hell", "hel", "aaa", "aaaa", "world hello", "abc", ""}) {
    CAPTURE(text);
    CHECK(encode(a, text) == encode(b, text));
  }
  CHECK(encode(a, "hello world") == Ids{testing::kHello, testing::kSpaceWorld});
}

TEST_CASE("BPE applies merges by rank, leftmost first among equal ranks") {
  const Tokenizer tok = make(testing::tiny_tokenizer());
  // h+e (rank 0) before l+l (rank 1), then he+ll, then hell+o.
  CHECK(encode(tok, "hello") == Ids{testing::kHello});
  CHECK(encode(tok, "hell") == Ids{testing::kHell});
  CHECK(encode(tok, "hel") == Ids{testing::kHe, 'l'});
  // a+a twice over "aaa": the left pair wins; the right candidate is stale.
  CHECK(encode(tok, "aaa") == Ids{testing::kAa, 'a'});
  CHECK(encode(tok, "aaaa") == Ids{testing::kAa, testing::kAa});
  CHECK(encode(tok, "aaaaa") == Ids{testing::kAa, testing::kAa, 'a'});
  // " world" is one pre-token: Ġ+w, o+r, Ġw+or, l+d, Ġwor+ld.
  CHECK(encode(tok, " world") == Ids{testing::kSpaceWorld});
  // "abc" is in the vocab but no merges lead there.
  CHECK(encode(tok, "abc") == Ids{'a', 'b', 'c'});
}

TEST_CASE("ignore_merges emits a whole pre-token found in the vocab (Llama-3)") {
  TinyOptions options;
  options.ignore_merges = true;
  const Tokenizer tok = make(testing::tiny_tokenizer(options));
  CHECK(encode(tok, "abc") == Ids{testing::kAbc});
  CHECK(encode(tok, "abcd") == Ids{'a', 'b', 'c', 'd'});
  CHECK(encode(tok, "hello") == Ids{testing::kHello});
}

TEST_CASE("added tokens inside text are found first, longest match") {
  const Tokenizer tok = make(testing::tiny_with_added());
  CHECK(encode(tok, "hello<｜User｜>hello</think>aa") ==
        Ids{testing::kHello, 301, testing::kHello, 303, testing::kAa});
  // <thinking> is longer than <think> at the same position.
  CHECK(encode(tok, "<thinking>") == Ids{305});
  CHECK(encode(tok, "<think>ing>") == Ids{302, 'i', 'n', 'g', '>'});
  // Adjacent tokens, and a token cut short is just text.
  CHECK(encode(tok, "<think></think>") == Ids{302, 303});
  CHECK(encode(tok, "<think") == bytes_of("<think"));
  // A space before an added token stays its own piece: the regex never sees
  // the token, so " " is not merged into what follows.
  CHECK(encode(tok, "hello <think>") == Ids{testing::kHello, ' ', 302});
}

TEST_CASE("without parse_special every added token is plain text") {
  const Tokenizer tok = make(testing::tiny_with_added());
  const Ids ids = encode(tok, "<｜User｜>hi<think>", false);
  for (TokenId id : ids) CHECK(id < testing::kFirstAdded);
  CHECK(decode(tok, ids) == "<｜User｜>hi<think>");
}

TEST_CASE("lstrip and rstrip swallow the white space beside an added token") {
  TinyOptions options;
  options.added_tokens = nlohmann::json::array({testing::added_token(300, "<m>", true, true, true)});
  const Tokenizer tok = make(testing::tiny_tokenizer(options));
  CHECK(encode(tok, "aa  <m>  aa") == Ids{testing::kAa, 300, testing::kAa});
  CHECK(encode(tok, "<m> ") == Ids{300});
}

TEST_CASE("single_word added tokens do not match inside words") {
  TinyOptions options;
  options.added_tokens = nlohmann::json::array({testing::added_token(300, "aa", false, false, false, true)});
  const Tokenizer tok = make(testing::tiny_tokenizer(options));
  CHECK(encode(tok, "aa") == Ids{300});
  CHECK(encode(tok, "x aa.") == Ids{'x', ' ', 300, '.'});
  CHECK(encode(tok, "baa") == Ids{'b', testing::kAa});
}

TEST_CASE("decode turns bytes back into text and added tokens into their content") {
  const Tokenizer tok = make(testing::tiny_with_added());
  const std::string text = "<｜begin▁of▁sentence｜>hello world<think>x</think><｜end▁of▁sentence｜>";
  const Ids ids = encode(tok, text);
  CHECK(ids.front() == 304);
  CHECK(ids.back() == 300);
  CHECK(decode(tok, ids) == text);
  // skip_special drops special tokens only; <think> is an added, non-special token.
  CHECK(decode(tok, ids, true) == "hello world<think>x</think>");
  CHECK(tok.is_special(300));
  CHECK_FALSE(tok.is_special(302));
  // A character cut between ids decodes to U+FFFD.
  CHECK(decode(tok, Ids{0xE4, 0xB8}) == "\xEF\xBF\xBD");
  CHECK(decode(tok, bytes_of("中")) == "中");
  auto bad = tok.decode(Ids{99999});
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message.find("99999") != std::string::npos);
}

TEST_CASE("encode normalises to NFC when the file says so") {
  const Tokenizer nfc = make(testing::tiny_tokenizer());
  TinyOptions raw_options;
  raw_options.nfc = false;
  const Tokenizer raw = make(testing::tiny_tokenizer(raw_options));
  CHECK(encode(nfc, "e\xCC\x81") == bytes_of("\xC3\xA9"));  // e + U+0301 -> é
  CHECK(encode(raw, "e\xCC\x81") == bytes_of("e\xCC\x81"));
}

TEST_CASE("invalid UTF-8 is rejected with the byte offset") {
  const Tokenizer tok = make(testing::tiny_tokenizer());
  for (const auto& [text, offset] : std::vector<std::pair<std::string, size_t>>{
           {"abc\xFF", 3}, {"ab\xC3", 2}, {"\xC0\xAF", 0}, {"x\xED\xA0\x80", 1}, {"ok \xF4\x90\x80\x80", 3}}) {
    auto ids = tok.encode(text, true);
    REQUIRE_FALSE(ids.has_value());
    CHECK(ids.error().code == ErrorCode::kInvalidRequest);
    CHECK(ids.error().message.find("byte offset " + std::to_string(offset)) != std::string::npos);
  }
}

TEST_CASE("vocabulary look-ups, BOS and EOS from tokenizer_config.json") {
  const Tokenizer tok = make(testing::tiny_with_added(),
                             R"({"bos_token": {"__type": "AddedToken", "content": "<｜begin▁of▁sentence｜>"},
                                 "eos_token": "<｜end▁of▁sentence｜>", "chat_template": "{{ bos_token }}"})");
  CHECK(tok.vocab_size() == 306);
  CHECK(tok.bos_id() == 304);
  CHECK(tok.eos_id() == 300);
  CHECK(tok.chat_template() == "{{ bos_token }}");
  CHECK(tok.token_to_id("Ġworld") == testing::kSpaceWorld);
  CHECK(tok.token_to_id("<think>") == 302);
  CHECK_FALSE(tok.token_to_id("nope").has_value());
  CHECK(tok.id_to_token(testing::kSpaceWorld) == "Ġworld");
  CHECK(tok.id_to_token(303) == "</think>");
  CHECK_FALSE(tok.id_to_token(299).has_value());  // a hole between the vocab and the added tokens
  CHECK_FALSE(tok.id_to_token(-1).has_value());
  CHECK(tok.token_bytes(testing::kSpaceWorld) == " world");

  const Tokenizer no_config = make(testing::tiny_with_added());
  CHECK_FALSE(no_config.bos_id().has_value());
  CHECK_FALSE(no_config.eos_id().has_value());

  auto unknown = Tokenizer::from_json(testing::tiny_with_added().dump(), R"({"bos_token": "<s>"})");
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().message.find("bos_token '<s>'") != std::string::npos);
}

TEST_CASE("load reads tokenizer.json and tokenizer_config.json from a directory") {
  TempDir dir;
  dir.write("tokenizer.json", testing::tiny_with_added().dump());
  dir.write("tokenizer_config.json", R"({"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"})");
  auto tok = Tokenizer::load(dir.path);
  REQUIRE_MESSAGE(tok.has_value(), (tok.has_value() ? "" : tok.error().message));
  CHECK(tok->bos_id() == 304);
  CHECK(encode(*tok, "hello") == Ids{testing::kHello});
}

TEST_CASE("missing or corrupt tokenizer files are errors naming the file") {
  TempDir dir;
  SUBCASE("missing") {
    auto tok = Tokenizer::load(dir.path);
    REQUIRE_FALSE(tok.has_value());
    CHECK(tok.error().code == ErrorCode::kNotFound);
    CHECK(tok.error().message.find((dir.path / "tokenizer.json").string()) != std::string::npos);
  }
  SUBCASE("not JSON") {
    const auto path = dir.write("tokenizer.json", "{\"model\": {\"vocab\": ");
    auto tok = Tokenizer::load_files(path);
    REQUIRE_FALSE(tok.has_value());
    CHECK(tok.error().message.find(path.string()) != std::string::npos);
    CHECK(tok.error().message.find("not valid JSON") != std::string::npos);
  }
  SUBCASE("corrupt tokenizer_config.json") {
    dir.write("tokenizer.json", testing::tiny_tokenizer().dump());
    const auto config = dir.write("tokenizer_config.json", "[1, 2");
    auto tok = Tokenizer::load(dir.path);
    REQUIRE_FALSE(tok.has_value());
    CHECK(tok.error().message.find(config.string()) != std::string::npos);
  }
  SUBCASE("merge of tokens not in the vocab") {
    auto doc = testing::tiny_tokenizer();
    doc["model"]["merges"].push_back("zz q");
    const auto path = dir.write("tokenizer.json", doc.dump());
    auto tok = Tokenizer::load_files(path);
    REQUIRE_FALSE(tok.has_value());
    CHECK(tok.error().message.find(path.string()) != std::string::npos);
    CHECK(tok.error().message.find("merge 10") != std::string::npos);
  }
  SUBCASE("malformed merge") {
    auto doc = testing::tiny_tokenizer();
    doc["model"]["merges"].push_back("abc");
    auto tok = Tokenizer::from_json(doc.dump(), {}, "x/tokenizer.json");
    REQUIRE_FALSE(tok.has_value());
    CHECK(tok.error().message.find("x/tokenizer.json") == 0);
  }
  SUBCASE("vocab without the byte tokens") {
    auto doc = testing::tiny_tokenizer();
    doc["model"]["vocab"].erase("Ġ");
    doc["model"]["merges"] = nlohmann::json::array();
    auto tok = Tokenizer::from_json(doc.dump());
    REQUIRE_FALSE(tok.has_value());
    CHECK(tok.error().message.find("0x20") != std::string::npos);
  }
}

TEST_CASE("unsupported tokenizer.json features are refused, not mis-tokenised") {
  auto refused = [](const nlohmann::json& doc, const std::string& needle) {
    auto tok = Tokenizer::from_json(doc.dump());
    REQUIRE_FALSE(tok.has_value());
    CHECK_MESSAGE(tok.error().message.find(needle) != std::string::npos, tok.error().message);
  };
  TinyOptions gpt2;
  gpt2.regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
  refused(testing::tiny_tokenizer(gpt2), "unsupported pre-tokenizer Split regex");

  auto doc = testing::tiny_tokenizer();
  doc["normalizer"] = {{"type", "NFKC"}};
  refused(doc, "unsupported normalizer");

  doc = testing::tiny_tokenizer();
  doc["model"]["type"] = "WordPiece";
  refused(doc, "unsupported model type");

  doc = testing::tiny_tokenizer();
  doc["model"]["byte_fallback"] = true;
  refused(doc, "byte_fallback");

  doc = testing::tiny_tokenizer();
  doc["pre_tokenizer"]["pretokenizers"][1]["add_prefix_space"] = true;
  refused(doc, "add_prefix_space");

  doc = testing::tiny_tokenizer();
  doc["decoder"] = {{"type", "Metaspace"}};
  refused(doc, "unsupported decoder");

  // NFC inside a Sequence is fine.
  doc = testing::tiny_tokenizer();
  doc["normalizer"] = {{"type", "Sequence"}, {"normalizers", nlohmann::json::array({{{"type", "NFC"}}})}};
  CHECK(Tokenizer::from_json(doc.dump()).has_value());
}

TEST_CASE("concurrent encodes share the piece cache safely") {
  const Tokenizer tok = make(testing::tiny_with_added());
  const std::vector<std::string> texts = {"hello world", "aaaa hell", " world<think>hello", "中文 hello 😀", "x y z"};
  std::vector<Ids> want;
  for (const auto& t : texts) want.push_back(encode(tok, t));
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 2000; ++round) {
        const size_t i = static_cast<size_t>(round + t) % texts.size();
        auto ids = tok.encode(texts[i] + std::to_string(round % 50), true);
        auto base = tok.encode(texts[i], true);
        if (!ids || !base || *base != want[i]) ++wrong[static_cast<size_t>(t)];
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(wrong == std::vector<int>(4, 0));
}

TEST_CASE("arbitrary bytes never crash encode or decode") {
  const Tokenizer tok = make(testing::tiny_with_added());
  std::mt19937 rng(42);
  // Bytes biased towards UTF-8 structure so that many inputs are valid.
  const std::vector<std::string> fragments = {"a", " ", "\n", "'", "1", "\xC3\xA9", "e\xCC\x81", "\xE4\xB8\xAD",
                                              "\xF0\x9F\x98\x80", "<think>", "<｜User｜>", "\xE1\x84\x80",
                                              "\xE1\x85\xA1", "\x80", "\xC3", "\xF0\x9F", "\xFF", "\xED\xA0\x80"};
  int valid = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const int parts = static_cast<int>(rng() % 12);
    for (int i = 0; i < parts; ++i) {
      if (rng() % 4 == 0) {
        text.push_back(static_cast<char>(rng() % 256));
      } else {
        text += fragments[rng() % fragments.size()];
      }
    }
    CAPTURE(text);
    const bool parse_special = rng() % 2 == 0;
    auto ids = tok.encode(text, parse_special);
    if (auto bad = utf8::first_invalid(text)) {
      REQUIRE_FALSE(ids.has_value());
      CHECK(ids.error().message.find("byte offset " + std::to_string(*bad)) != std::string::npos);
      continue;
    }
    ++valid;
    REQUIRE(ids.has_value());
    CHECK(decode(tok, *ids) == nfc_normalize(text));
    // Any id sequence decodes to valid UTF-8.
    Ids random_ids;
    for (int i = 0; i < 8; ++i) random_ids.push_back(static_cast<TokenId>(rng() % 267));
    CHECK(utf8::is_valid(decode(tok, random_ids)));
  }
  CHECK(valid > 500);
}

}  // namespace
}  // namespace dsgw::local
