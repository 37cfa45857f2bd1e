#include "backends/local/tokenizer/stream_decoder.h"

#include <doctest/doctest.h>

#include "backends/local/tokenizer/byte_level.h"
#include "backends/local/tokenizer/utf8_codec.h"
#include "tests/unit/local/tokenizer/test_tokenizers.h"

namespace dsgw::local {
namespace {

Tokenizer tiny() {
  auto tok = Tokenizer::from_json(testing::tiny_with_added().dump());
  REQUIRE(tok.has_value());
  return std::move(tok).value();
}

std::vector<TokenId> bytes_of(std::string_view s) {
  std::vector<TokenId> ids;
  for (char c : s) ids.push_back(static_cast<unsigned char>(c));
  return ids;
}

TEST_CASE("an emoji split over four byte tokens comes out whole") {
  const Tokenizer tok = tiny();
  StreamDecoder stream(tok);
  const auto ids = bytes_of("😀");
  REQUIRE(ids.size() == 4);
  for (size_t i = 0; i < 3; ++i) {
    auto piece = stream.feed(ids[i]);
    REQUIRE(piece.has_value());
    CHECK(piece->empty());
    CHECK(stream.pending_bytes() == i + 1);
  }
  auto last = stream.feed(ids[3]);
  REQUIRE(last.has_value());
  CHECK(*last == "😀");
  CHECK(stream.pending_bytes() == 0);
  CHECK(stream.finish().empty());
}

TEST_CASE("streamed pieces are valid UTF-8 and concatenate to decode()") {
  const Tokenizer tok = tiny();
  const std::string text = "hello 中文 world 👨‍👩‍👧 <think>é</think>aaa";
  auto ids = tok.encode(text, true);
  REQUIRE(ids.has_value());
  StreamDecoder stream(tok);
  std::string joined;
  for (TokenId id : *ids) {
    auto piece = stream.feed(id);
    REQUIRE(piece.has_value());
    CHECK(utf8::is_valid(*piece));
    joined += *piece;
  }
  joined += stream.finish();
  CHECK(joined == text);
  CHECK(joined == *tok.decode(*ids));
}

TEST_CASE("a character that never completes becomes U+FFFD") {
  const Tokenizer tok = tiny();
  StreamDecoder stream(tok);
  CHECK(stream.feed(0xE4)->empty());
  CHECK(stream.feed(0xB8)->empty());
  // A special token arrives before the third byte.
  CHECK(*stream.feed(300) == "\xEF\xBF\xBD<｜end▁of▁sentence｜>");
  CHECK(stream.feed(0xF0)->empty());
  CHECK(stream.finish() == "\xEF\xBF\xBD");
  // A byte that can never start a character is replaced at once.
  CHECK(*stream.feed(0xFF) == "\xEF\xBF\xBD");
  CHECK(*stream.feed('x') == "x");
}

TEST_CASE("skip_special drops special tokens; unknown ids are errors") {
  const Tokenizer tok = tiny();
  StreamDecoder stream(tok, /*skip_special=*/true);
  CHECK(stream.feed(304)->empty());
  CHECK(*stream.feed(302) == "<think>");
  CHECK(*stream.feed('a') == "a");
  auto bad = stream.feed(12345);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().code == ErrorCode::kInvalidRequest);
}

}  // namespace
}  // namespace dsgw::local
