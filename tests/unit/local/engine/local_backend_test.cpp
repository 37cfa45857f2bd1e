// LocalBackend end to end on the demo model (real R1 tokenizer, tiny random
// Qwen2): prompts, greedy output against a reference decoder that drives the
// Transformer by hand, batching invariance, seeds, usage, context limits,
// raw completions and stop strings.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "backends/local/chat/chat_template.h"
#include "backends/local/model/linear.h"
#include "tests/unit/local/engine/engine_test_support.h"

namespace dsgw::local {
namespace {

using namespace std::chrono_literals;
using testing::chat_request;
using testing::completion_request;
using testing::demo_options;
using testing::Outcome;
using testing::test_info;

using testing::shared_backend;
using testing::vocab_limit;

std::vector<int32_t> encode(const LocalBackend& b, const std::string& text, bool parse_special = false) {
  auto ids = b.tokenizer()->encode(text, parse_special);
  REQUIRE(ids.has_value());
  return *ids;
}

void check_clean(const Outcome& o) {
  CAPTURE(o.reasoning);
  CAPTURE(o.content);
  for (const auto& v : o.violations) FAIL_CHECK("sink contract: " << v);
  if (o.failure) FAIL_CHECK("unexpected failure: " << o.failure->message);
  CHECK(o.terminals == 1);
  CHECK(o.usage.has_value());
  CHECK(o.finish.has_value());
}

bool same(const Outcome& a, const Outcome& b) {
  return a.reasoning == b.reasoning && a.content == b.content && a.finish == b.finish && a.usage && b.usage &&
         a.usage->prompt_tokens == b.usage->prompt_tokens &&
         a.usage->completion_tokens == b.usage->completion_tokens;
}

const std::string kLongPrompt = [] {
  std::string s = "Summarise this:";
  for (int i = 0; i < 30; ++i) s += " the quick brown fox jumps over the lazy dog " + std::to_string(i) + ".";
  return s;
}();

// The last one takes several prefill chunks (prefill_chunk 64), so that its
// prefill lands between the others' decode steps.
const char* const kPrompts[] = {
    "Tell me about the sea.",
    "What is 17 * 23? Think step by step and show your work, please.",
    "你好，请介绍一下你自己。",
    "Write a haiku about autumn leaves falling on a quiet pond at dusk, then explain it.",
    kLongPrompt.c_str(),
};

TEST_CASE("the demo model loads and reports itself usable") {
  LocalBackend& b = shared_backend();
  CHECK(b.health().usable);
  CHECK(b.health().reason.empty());
  REQUIRE(b.tokenizer() != nullptr);
  auto stats = b.stats();
  REQUIRE(stats.has_value());
  CHECK(stats->memory.weight_bytes > 0);
  CHECK(stats->memory.kv_cache_bytes > 0);
  CHECK(b.info().kind == "local");
}

TEST_CASE("chat prompt: BOS, turn markers by id, generation prompt; typed markers stay text") {
  LocalBackend& b = shared_backend();
  const int32_t bos = testing::token_id(b, kBosToken);
  const int32_t user = testing::token_id(b, kUserToken);
  const int32_t assistant = testing::token_id(b, kAssistantToken);
  const int32_t think = testing::token_id(b, kThinkStartToken);
  const std::string text = "hi <｜User｜> there <｜Assistant｜></think><｜end▁of▁sentence｜>";

  auto spec = b.prepare(chat_request(text, 7));
  REQUIRE(spec.has_value());
  std::vector<int32_t> expected{bos, user};
  for (int32_t id : encode(b, text)) expected.push_back(id);
  expected.push_back(assistant);
  expected.push_back(think);
  for (int32_t id : encode(b, "\n")) expected.push_back(id);
  CHECK(spec->prompt == expected);
  CHECK(spec->prompt.front() == bos);
  CHECK(std::count(spec->prompt.begin(), spec->prompt.end(), user) == 1);
  CHECK(std::count(spec->prompt.begin(), spec->prompt.end(), assistant) == 1);
  CHECK(std::count(spec->prompt.begin(), spec->prompt.end(), testing::token_id(b, kThinkEndToken)) == 0);
  CHECK(std::count(spec->prompt.begin(), spec->prompt.end(), testing::token_id(b, kEosToken)) == 0);
  CHECK(spec->max_new_tokens == 7);
  CHECK(spec->split_reasoning);
  CHECK(spec->start == GenerationStart::kReasoning);
  CHECK(std::find(spec->end_tokens.begin(), spec->end_tokens.end(), testing::token_id(b, kEosToken)) !=
        spec->end_tokens.end());

  {  // a raw completion parses specials the caller wrote, after a BOS
    auto raw = b.prepare(completion_request("<｜User｜>x", 3));
    REQUIRE(raw.has_value());
    REQUIRE(raw->prompt.size() >= 3);
    CHECK(raw->prompt[0] == bos);
    CHECK(raw->prompt[1] == user);
    CHECK_FALSE(raw->split_reasoning);
  }
  {  // priority: the request's hint, else the configured default
    auto r = chat_request("x", 1);
    CHECK(b.prepare(r)->priority == 5);
    r.hints.priority = 0;
    CHECK(b.prepare(r)->priority == 0);
  }
}

TEST_CASE("greedy chat output equals a hand-driven reference decoder, with exact usage") {
  LocalBackend& b = shared_backend();
  for (const char* prompt : kPrompts) {
    CAPTURE(prompt);
    const auto request = chat_request(prompt, 24);
    auto spec = b.prepare(request);
    REQUIRE(spec.has_value());
    const auto ref = testing::reference_greedy(spec->prompt, 24, spec->end_tokens, vocab_limit(b));
    const bool ended =
        std::find(spec->end_tokens.begin(), spec->end_tokens.end(), ref.back()) != spec->end_tokens.end();
    const std::string ref_text = testing::decode_text(b, ref);

    const Outcome o = testing::run(b, request);
    check_clean(o);
    REQUIRE(o.usage);
    CHECK(o.usage->prompt_tokens == static_cast<int64_t>(spec->prompt.size()));
    CHECK(o.usage->completion_tokens == static_cast<int64_t>(ref.size()));
    CHECK(o.finish == std::string(ended ? "stop" : "length"));
    if (ref_text.find("</think>") == std::string::npos) {
      // Still thinking: everything is reasoning.
      CHECK(o.reasoning == ref_text);
      CHECK(o.content.empty());
      CHECK(o.usage->reasoning_tokens == o.usage->completion_tokens - (ended ? 1 : 0));
    } else {
      MESSAGE("the model closed its reasoning; checking the prefix only");
      CHECK(ref_text.rfind(o.reasoning, 0) == 0);
    }
    CHECK(o.usage->reasoning_tokens <= o.usage->completion_tokens);

    // And again: temperature 0 is deterministic.
    if (prompt == kPrompts[0]) CHECK(same(testing::run(b, request), o));
  }
}

TEST_CASE("continuous batching does not change greedy results") {
  LocalBackend& b = shared_backend();
  std::vector<Outcome> alone;
  for (const char* p : kPrompts) alone.push_back(testing::run(b, chat_request(p, 20)));

  for (int round = 0; round < 2; ++round) {
    CAPTURE(round);
    std::vector<Outcome> together(std::size(kPrompts));
    std::atomic<int> done{0};
    std::vector<std::thread> threads;
    for (size_t i = 0; i < std::size(kPrompts); ++i) {
      threads.emplace_back([&, i] {
        // Staggered starts in the second round: prefills land between decodes.
        if (round == 1) std::this_thread::sleep_for(std::chrono::milliseconds(15 * i));
        together[i] = testing::run(b, chat_request(kPrompts[i], 20));
        ++done;
      });
    }
    int peak = 0;
    while (peak < 2 && done.load() < static_cast<int>(std::size(kPrompts))) {
      peak = std::max(peak, b.load().running);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    for (auto& t : threads) t.join();
    CHECK(peak >= 2);  // they really shared the batch
    for (size_t i = 0; i < std::size(kPrompts); ++i) {
      CAPTURE(kPrompts[i]);
      check_clean(together[i]);
      CHECK(together[i].reasoning == alone[i].reasoning);
      CHECK(together[i].content == alone[i].content);
      CHECK(same(together[i], alone[i]));
    }
  }
}

TEST_CASE("continuous batching does not change greedy results past the gemv row limit (17 at once)") {
  // Decode batches of more than Linear::kMaxGemvRows (16) rows take the
  // blocked matmul instead of the gemv kernels that a lone sequence uses.
  constexpr int kWide = dsgw::local::Linear::kMaxGemvRows + 1;
  LocalBackend wide(test_info(), demo_options(/*max_batch=*/kWide, /*kv_cache_mb=*/32));
  REQUIRE(wide.health().usable);
  std::vector<std::string> prompts;
  for (int i = 0; i < kWide; ++i)
    prompts.push_back(std::string(kPrompts[i % 4]) + " (" + std::to_string(i) + ")");
  std::vector<Outcome> alone;
  for (const auto& p : prompts) alone.push_back(testing::run(wide, chat_request(p, 16)));
  std::vector<Outcome> together(prompts.size());
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (size_t i = 0; i < prompts.size(); ++i) {
    threads.emplace_back([&, i] {
      together[i] = testing::run(wide, chat_request(prompts[i], 16));
      ++done;
    });
  }
  int peak = 0;
  while (done.load() < static_cast<int>(prompts.size())) {
    peak = std::max(peak, wide.load().running);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  for (auto& t : threads) t.join();
  MESSAGE("peak batch " << peak);
  CHECK(peak == kWide);
  for (size_t i = 0; i < prompts.size(); ++i) {
    CAPTURE(prompts[i]);
    check_clean(together[i]);
    CHECK(together[i].reasoning == alone[i].reasoning);
    CHECK(same(together[i], alone[i]));
  }
}

TEST_CASE("sampling: the same seed gives the same tokens, another seed others") {
  LocalBackend& b = shared_backend();
  const auto a1 = testing::run(b, chat_request("Tell me a story.", 24, 1.0, 42));
  const auto a2 = testing::run(b, chat_request("Tell me a story.", 24, 1.0, 42));
  const auto c = testing::run(b, chat_request("Tell me a story.", 24, 1.0, 43));
  check_clean(a1);
  check_clean(c);
  CHECK(same(a1, a2));
  CHECK(a1.reasoning + a1.content != c.reasoning + c.content);

  {  // top_k = 1 at temperature 1 is greedy
    auto greedy = testing::run(b, chat_request("Tell me a story.", 24, 0.0));
    auto k1 = chat_request("Tell me a story.", 24, 1.0, 5);
    k1.sampling.top_k = 1;
    CHECK(same(testing::run(b, k1), greedy));
    CHECK_FALSE(same(a1, greedy));
  }
  {  // a seeded request gives the same tokens while others run beside it
    std::vector<std::thread> noise;
    std::vector<Outcome> noise_out(3);
    for (int i = 0; i < 3; ++i) {
      noise.emplace_back([&, i] { noise_out[i] = testing::run(b, chat_request(kPrompts[i], 24, 1.0)); });
    }
    const auto a3 = testing::run(b, chat_request("Tell me a story.", 24, 1.0, 42));
    for (auto& t : noise) t.join();
    CHECK(same(a1, a3));
  }
}

TEST_CASE("max_tokens: 1 works; finish is length at the limit") {
  LocalBackend& b = shared_backend();
  for (int n : {1, 2, 9}) {
    CAPTURE(n);
    const auto request = chat_request("Count to ten.", n);
    auto spec = b.prepare(request);
    REQUIRE(spec.has_value());
    const auto ref = testing::reference_greedy(spec->prompt, n, spec->end_tokens, vocab_limit(b));
    const Outcome o = testing::run(b, request);
    check_clean(o);
    REQUIRE(o.usage);
    CHECK(o.usage->completion_tokens == static_cast<int64_t>(ref.size()));
    if (static_cast<int>(ref.size()) == n &&
        std::find(spec->end_tokens.begin(), spec->end_tokens.end(), ref.back()) == spec->end_tokens.end()) {
      CHECK(o.finish == std::string("length"));
      CHECK(o.usage->completion_tokens == n);
    }
  }
}

TEST_CASE("raw completions: no reasoning split, the prompt's specials are the caller's") {
  LocalBackend& b = shared_backend();
  // "</think>" in the prompt would switch a chat splitter to the answer; here
  // nothing is split at all.
  const auto request = completion_request("<｜User｜>Once upon a time<｜Assistant｜><think>\n", 20);
  auto spec = b.prepare(request);
  REQUIRE(spec.has_value());
  const auto ref = testing::reference_greedy(spec->prompt, 20, spec->end_tokens, vocab_limit(b));
  const Outcome o = testing::run(b, request);
  check_clean(o);
  CHECK(o.reasoning.empty());
  CHECK(o.content == testing::decode_text(b, ref));
  CHECK_FALSE(o.content.empty());
  REQUIRE(o.usage);
  CHECK(o.usage->reasoning_tokens == 0);
  CHECK(o.usage->prompt_tokens == static_cast<int64_t>(spec->prompt.size()));
  CHECK(o.usage->completion_tokens == static_cast<int64_t>(ref.size()));
}

// The first `k` bytes of `s` cut back to a UTF-8 character boundary.
size_t utf8_floor(const std::string& s, size_t k) {
  while (k > 0 && k < s.size() && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
  return k;
}

// A stop string taken from the middle of `text` whose first occurrence is at
// its offset; returns the offset (npos if none found).
size_t pick_stop(const std::string& text, std::string& stop) {
  for (size_t k = utf8_floor(text, text.size() / 2); k > 0; k = utf8_floor(text, k - 1)) {
    const size_t end = utf8_floor(text, std::min(text.size(), k + 3));
    if (end <= k) continue;
    stop = text.substr(k, end - k);
    if (text.find(stop) == k) return k;
  }
  return std::string::npos;
}

TEST_CASE("stop strings end the answer with finish stop, and are not emitted") {
  LocalBackend& b = shared_backend();
  auto request = completion_request("The quick brown fox", 24);
  auto spec = b.prepare(request);
  REQUIRE(spec.has_value());
  const auto ref = testing::reference_greedy(spec->prompt, 24, spec->end_tokens, vocab_limit(b));
  const Outcome first = testing::run(b, request);
  check_clean(first);
  const std::string text = first.content;
  REQUIRE(text.size() >= 8);
  std::string stop;
  const size_t at = pick_stop(text, stop);
  REQUIRE(at != std::string::npos);
  CAPTURE(text);
  CAPTURE(stop);

  // The token that completes the stop string.
  size_t needed = 0;
  for (size_t j = 1; j <= ref.size(); ++j) {
    if (testing::decode_text(b, std::vector<int32_t>(ref.begin(), ref.begin() + j)).find(stop) !=
        std::string::npos) {
      needed = j;
      break;
    }
  }
  REQUIRE(needed > 0);

  request.sampling.stop = {"never-in-this-output-\x01", stop};
  const Outcome o = testing::run(b, request);
  check_clean(o);
  CHECK(o.finish == std::string("stop"));
  CHECK(o.content == text.substr(0, at));
  CHECK(o.content.find(stop) == std::string::npos);
  REQUIRE(o.usage);
  CHECK(o.usage->completion_tokens == static_cast<int64_t>(needed));

  {  // a stop string at the very start: nothing is emitted, finish stop
    auto at_start = request;
    size_t first_char = 1;  // the output's first character
    while (first_char < text.size() && (static_cast<unsigned char>(text[first_char]) & 0xC0) == 0x80)
      ++first_char;
    at_start.sampling.stop = {text.substr(0, first_char)};
    const Outcome s0 = testing::run(b, at_start);
    check_clean(s0);
    CHECK(s0.finish == std::string("stop"));
    CHECK(s0.content.empty());
    CHECK(s0.deltas == 0);
  }
  {  // the same through a chat whose prefill closed the reasoning
    router::Request chat = chat_request("Say something.", 24);
    chat.messages.push_back({"assistant", "<think>\nok\n</think>\n\nSure:", ""});
    auto cspec = b.prepare(chat);
    REQUIRE(cspec.has_value());
    CHECK(cspec->start == GenerationStart::kAnswer);
    const Outcome c1 = testing::run(b, chat);
    check_clean(c1);
    CHECK(c1.reasoning.empty());
    REQUIRE(c1.content.size() >= 8);
    std::string cstop;
    const size_t cat = pick_stop(c1.content, cstop);
    REQUIRE(cat != std::string::npos);
    chat.sampling.stop = {cstop};
    const Outcome c2 = testing::run(b, chat);
    check_clean(c2);
    CHECK(c2.finish == std::string("stop"));
    CHECK(c2.content == c1.content.substr(0, cat));
  }
}

TEST_CASE("stop strings do not apply to the reasoning") {
  LocalBackend& b = shared_backend();
  auto request = chat_request("Tell me about the sea.", 24);
  const Outcome first = testing::run(b, request);
  check_clean(first);
  REQUIRE(first.content.empty());  // random weights: still thinking
  std::string stop;
  REQUIRE(pick_stop(first.reasoning, stop) != std::string::npos);
  request.sampling.stop = {stop};
  const Outcome o = testing::run(b, request);
  check_clean(o);
  CHECK(same(o, first));
}

// The per-sequence context of a backend: a short prompt's length plus the
// room prepare() leaves it when max_tokens is absent.
int64_t context_of(const LocalBackend& b) {
  auto spec = b.prepare(chat_request("x", std::nullopt));
  REQUIRE(spec.has_value());
  return static_cast<int64_t>(spec->prompt.size()) + spec->max_new_tokens;
}

// A chat prompt of exactly `n` tokens (BOS, markers and "a a a ...").
router::Request chat_of_length(const LocalBackend& b, int64_t n) {
  const int64_t overhead = static_cast<int64_t>(b.prepare(chat_request("a", 1))->prompt.size()) - 1;
  std::string text = "a";
  for (int64_t i = 1; i < n - overhead; ++i) text += " a";
  REQUIRE(static_cast<int64_t>(encode(b, text).size()) == n - overhead);
  return chat_request(text, std::nullopt);
}

TEST_CASE("context: kv_cache_mb bounds each sequence; a longer prompt is refused with both lengths") {
  // fp32, 2 layers x (K, V) x 2 KV heads x 32 dims x 4 bytes = 1 KiB per token;
  // 1 MiB over 4 slots is 256 tokens each.
  static LocalBackend b(test_info(), demo_options(/*max_batch=*/4, /*kv_cache_mb=*/1));
  REQUIRE(b.health().usable);
  const int64_t context = context_of(b);
  CHECK(context == 256);

  std::string huge;
  for (int i = 0; i < 400; ++i) huge += "word ";
  const int64_t prompt_tokens = static_cast<int64_t>(b.prepare(chat_request("a", 1))->prompt.size()) - 1 +
                                static_cast<int64_t>(encode(b, huge).size());
  const Outcome o = testing::run(b, chat_request(huge, 5));
  REQUIRE(o.failure.has_value());
  CHECK(o.failure->code == ErrorCode::kContextLengthExceeded);
  CHECK(o.failure->param == "messages");
  CAPTURE(o.failure->message);
  CHECK(o.failure->message.find(std::to_string(prompt_tokens)) != std::string::npos);
  CHECK(o.failure->message.find(std::to_string(context)) != std::string::npos);
  CHECK(o.terminals == 1);
  CHECK_FALSE(o.usage.has_value());

  const Outcome raw = testing::run(b, completion_request(huge, 5));
  REQUIRE(raw.failure.has_value());
  CHECK(raw.failure->code == ErrorCode::kContextLengthExceeded);
  CHECK(raw.failure->param == "prompt");

  {  // a prompt that fills the context is refused; one token less gets one token
    auto full = b.prepare(chat_of_length(b, context));
    REQUIRE_FALSE(full.has_value());
    CHECK(full.error().code == ErrorCode::kContextLengthExceeded);
    auto one_less = b.prepare(chat_of_length(b, context - 1));
    REQUIRE(one_less.has_value());
    CHECK(one_less->max_new_tokens == 1);
    const Outcome last = testing::run(b, chat_of_length(b, context - 1));
    check_clean(last);
    REQUIRE(last.usage);
    CHECK(last.usage->completion_tokens == 1);
  }
  {  // a generation that runs into the end of its context stops there with length
    const router::Request near = chat_of_length(b, context - 6);
    auto spec = b.prepare(near);
    REQUIRE(spec.has_value());
    CHECK(spec->max_new_tokens == 6);
    const auto ref = testing::reference_greedy(spec->prompt, 6, spec->end_tokens, vocab_limit(b));
    const Outcome o2 = testing::run(b, near);
    check_clean(o2);
    REQUIRE(o2.usage);
    CHECK(o2.usage->completion_tokens == static_cast<int64_t>(ref.size()));
    if (ref.size() == 6) CHECK(o2.finish == std::string("length"));
    CHECK(o2.reasoning == testing::decode_text(b, ref));
  }
  {  // max_tokens larger than the room left is capped by the context
    router::Request r = chat_of_length(b, context - 3);
    r.sampling.max_tokens = 1000;
    auto spec = b.prepare(r);
    REQUIRE(spec.has_value());
    CHECK(spec->max_new_tokens == 3);
  }
}

}  // namespace
}  // namespace dsgw::local
