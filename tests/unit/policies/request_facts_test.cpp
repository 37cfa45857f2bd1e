#include "policies/request_facts.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "tests/unit/test_util.h"

using dsgw::ErrorCode;
using dsgw::policies::estimate_tokens;
using dsgw::policies::extract_facts;
using dsgw::policies::PiiType;
using dsgw::policies::Policy;
using dsgw::policies::pii::Detector;
using dsgw::policies::pii::Finding;
using dsgw::router::Request;
using dsgw::test::contains;

namespace {

// Two classes; cards and e-mail addresses make a request restricted (a
// policy that maps no PII type, in [pii] or a rule, is not scanned at all).
Policy two_classes() {
  Policy p;
  p.classes = {{"public", {"device"}}, {"restricted", {"device"}}};
  p.class_backends = {0, 0};
  p.pii_class.fill(-1);
  p.pii_class[static_cast<size_t>(PiiType::kCreditCard)] = 1;
  p.pii_class[static_cast<size_t>(PiiType::kEmail)] = 1;
  return p;
}

Request chat(std::vector<std::string> contents) {
  Request r;
  r.id = std::string("r1");  // not operator=(const char*): g++ 12 -O3 misreports -Wrestrict on it here
  r.tenant = std::string("team-a");
  r.model = std::string("m");
  const std::string roles[] = {"system", "user", "assistant", "user"};
  for (size_t i = 0; i < contents.size(); ++i) {
    dsgw::router::ChatMessage m;
    m.role = roles[i % 4];
    m.content = std::move(contents[i]);
    r.messages.push_back(std::move(m));
  }
  return r;
}

bool has(const std::vector<Finding>& findings, PiiType type) {
  return std::any_of(findings.begin(), findings.end(), [&](const Finding& f) { return f.type == type; });
}

const Detector kDetector;

}  // namespace

TEST_CASE("facts: PII is found in any message, not only the last") {
  const Policy p = two_classes();
  auto f = extract_facts(chat({"You are helpful.", "Hi", "Write to alice@example.com about it", "Thanks"}), p, kDetector);
  REQUIRE(f.has_value());
  CHECK(has(f->findings, PiiType::kEmail));
  CHECK(f->findings.size() == 1);

  f = extract_facts(chat({"Card 4111 1111 1111 1111 is on file.", "Hi"}), p, kDetector);
  REQUIRE(f.has_value());
  CHECK(has(f->findings, PiiType::kCreditCard));

  f = extract_facts(chat({"You are helpful.", "What is TCP?"}), p, kDetector);
  REQUIRE(f.has_value());
  CHECK(f->findings.empty());
}

TEST_CASE("facts: PII in the pass-through JSON (tools, response_format, ...) and in a completion prompt is found") {
  const Policy p = two_classes();
  Request r = chat({"What is TCP?"});
  r.passthrough_json = R"({"tools":[{"type":"function","function":{"name":"pay","description":"card 4111 1111 1111 1111"}}]})";
  auto f = extract_facts(r, p, kDetector);
  REQUIRE(f.has_value());
  CHECK(has(f->findings, PiiType::kCreditCard));

  r = chat({});
  r.endpoint = dsgw::router::Endpoint::kCompletion;
  r.prompt = "Mail bob@example.org the minutes";
  f = extract_facts(r, p, kDetector);
  REQUIRE(f.has_value());
  CHECK(has(f->findings, PiiType::kEmail));
  CHECK(f->prompt_tokens == estimate_tokens(r.prompt));
}

TEST_CASE("facts: a message's wire form is scanned string by string, decoded") {
  const Policy p = two_classes();
  Request r = chat({"see the attachment"});
  r.messages[0].raw_json =
      R"({"role":"user","content":[{"type":"text","text":"see the attachment"},)"
      R"({"type":"text","text":"from alice\u0040example.com"}]})";
  auto f = extract_facts(r, p, kDetector);
  REQUIRE(f.has_value());
  CHECK(has(f->findings, PiiType::kEmail));  // only in the JSON, and only once \u0040 is decoded
}

TEST_CASE("facts: a policy that maps no PII type does not scan") {
  Policy p = two_classes();
  p.pii_class.fill(-1);
  auto f = extract_facts(chat({"Write to alice@example.com about card 4111 1111 1111 1111"}), p, kDetector);
  REQUIRE(f.has_value());
  CHECK(f->findings.empty());
  p.rules.push_back({});
  p.rules.back().when.pii = 1u << static_cast<int>(PiiType::kCreditCard);  // a rule on PII types: scanned
  f = extract_facts(chat({"Write to alice@example.com about card 4111 1111 1111 1111"}), p, kDetector);
  REQUIRE(f.has_value());
  CHECK(has(f->findings, PiiType::kCreditCard));
}

TEST_CASE("facts: the request's fields and hints are carried over; a known hint becomes a class rank") {
  const Policy p = two_classes();
  Request r = chat({"abcd", "你好"});
  r.device = "plant-7";
  r.hints.data_class = "restricted";
  r.hints.latency_budget_ms = 1500;
  r.hints.max_cost_usd = 0.25;
  r.hints.priority = 2;
  r.sampling.max_tokens = 64;
  auto f = extract_facts(r, p, kDetector);
  REQUIRE(f.has_value());
  CHECK(f->tenant == "team-a");
  CHECK(f->device == "plant-7");
  CHECK(f->model == "m");
  CHECK(f->hinted_class == 1);
  CHECK(f->latency_budget_ms == 1500);
  CHECK(f->max_cost_usd == 0.25);
  CHECK(f->priority == 2);
  CHECK(f->max_tokens == 64);
  CHECK(f->prompt_tokens == (1 + 4) + (2 + 4));  // each turn adds its template tokens

  r.hints = {};
  r.sampling.max_tokens.reset();
  f = extract_facts(r, p, kDetector);
  REQUIRE(f.has_value());
  CHECK(f->hinted_class == -1);
  CHECK(f->max_tokens == 0);
  CHECK_FALSE(f->latency_budget_ms.has_value());
}

TEST_CASE("facts: a data-class hint the policy does not define is kInvalidRequest") {
  const Policy p = two_classes();
  Request r = chat({"hello"});
  r.hints.data_class = "top-secret";
  const auto f = extract_facts(r, p, kDetector);
  REQUIRE_FALSE(f.has_value());
  CHECK(f.error().code == ErrorCode::kInvalidRequest);
  CHECK(f.error().param == "data_class");
  CHECK(contains(f.error().message, "\"top-secret\""));
  CHECK(contains(f.error().message, "public, restricted"));
}

TEST_CASE("facts: estimate_tokens counts ASCII at ~4 bytes a token and other characters one each") {
  CHECK(estimate_tokens("") == 0);
  CHECK(estimate_tokens("a") == 1);
  CHECK(estimate_tokens("abcd") == 1);
  CHECK(estimate_tokens("abcde") == 2);
  CHECK(estimate_tokens(std::string(4000, 'x')) == 1000);
  CHECK(estimate_tokens("你好世界") == 4);               // 12 bytes, 4 characters
  CHECK(estimate_tokens("hi 你好") == 1 + 2);            // "hi " rounds up to one token
  CHECK(estimate_tokens("\xF0\x9F\x98\x80") == 1);       // one 4-byte character
  CHECK(estimate_tokens("Ünïcödé") == (3 + 3) / 4 + 4);  // 3 ASCII letters, 4 accented ones
}
