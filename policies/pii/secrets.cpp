// Secrets recognised by their prefix or structure: cloud and API keys, tokens, PEM private keys.
#include <algorithm>
#include <cstring>
#include <string_view>

#include "policies/pii/scanner.h"

namespace dsgw::policies::pii::detail {

namespace {

constexpr size_t kPemLabelMax = 48;       // "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY", ...
constexpr size_t kPemWindow = 64 * 1024;  // how far the END line may be from BEGIN
constexpr std::string_view kPemBegin = "-----BEGIN ";
constexpr std::string_view kPemEnd = "-----END ";

bool is_upper_alnum(uint8_t c) { return has(c, kDigit | kUpper); }

}  // namespace

// AKIA/ASIA + 16 [A-Z0-9]: the whole word.
Match Scanner::match_aws(size_t ws, size_t we) const {
  if (we - ws != 20 || p_[ws + 2] != 'I' || p_[ws + 3] != 'A' || (p_[ws + 1] != 'K' && p_[ws + 1] != 'S')) {
    return {};
  }
  for (size_t i = ws + 4; i < we; ++i) {
    if (!is_upper_alnum(p_[i])) return {};
  }
  return {PiiType::kAwsAccessKey, ws, we};
}

// Google API keys: "AIza" + 35 [A-Za-z0-9_-] (reported as api_key).
Match Scanner::match_google_key(size_t ws) const {
  if (at(ws + 1) != 'I' || at(ws + 2) != 'z' || at(ws + 3) != 'a') return {};
  size_t e = ws + 4;
  while (e < n_ && e - ws <= 39 && has(p_[e], kB64Url)) ++e;
  if (e - ws != 39 || has(at(e), kB64Url)) return {};
  return {PiiType::kApiKey, ws, e};
}

// ghp_/gho_/ghu_/ghs_/ghr_ + 36 [A-Za-z0-9]; github_pat_ + 82 [A-Za-z0-9_].
Match Scanner::match_github(size_t ws) const {
  size_t body = 0;
  size_t want = 0;
  uint8_t cls = 0;
  const uint8_t k = at(ws + 2);
  if (at(ws + 1) == 'h' && at(ws + 3) == '_' && (k == 'p' || k == 'o' || k == 'u' || k == 's' || k == 'r')) {
    body = ws + 4;
    want = 36;
    cls = kDigit | kUpper | kLower;
  } else if (n_ - ws >= 11 && std::memcmp(p_ + ws, "github_pat_", 11) == 0) {
    body = ws + 11;
    want = 82;
    cls = kDigit | kUpper | kLower;
  } else {
    return {};
  }
  const bool pat = want == 82;
  size_t e = body;
  while (e < n_ && e - body <= want && (has(p_[e], cls) || (pat && p_[e] == '_'))) ++e;
  if (e - body != want || is_alnum(at(e)) || at(e) == '_') return {};
  return {PiiType::kGithubToken, ws, e};
}

// "sk-" (or "sk-proj-") + at least 20 [A-Za-z0-9_-], with at least one digit or capital, so that
// "sk-learn-style-kebab-case-names" stay out. OpenAI, Anthropic ("sk-ant-") and most
// OpenAI-compatible providers use this shape.
Match Scanner::match_sk_key(size_t ws) {
  if (ws < sk_fail_until_) return {};
  size_t body = ws + 3;
  if (n_ - body >= 5 && std::memcmp(p_ + body, "proj-", 5) == 0) body += 5;
  size_t e = body;
  bool mixed = false;
  while (e < n_ && has(p_[e], kB64Url)) {
    mixed |= has(p_[e], kDigit | kUpper);
    ++e;
  }
  if (e - body < 20 || !mixed) {
    sk_fail_until_ = e;  // any later "sk-" inside this run ends at the same e with a shorter body
    return {};
  }
  return {PiiType::kApiKey, ws, e};
}

// header.payload.signature: base64url segments, the first two starting "eyJ" (a JSON object) and
// at least 8 long; the signature may be empty (alg "none").
Match Scanner::match_jwt(size_t ws) {
  if (ws < jwt_fail_until_ || at(ws + 1) != 'y' || at(ws + 2) != 'J') return {};
  auto segment_end = [&](size_t from) {
    while (from < n_ && has(p_[from], kB64Url)) ++from;
    return from;
  };
  const size_t e1 = segment_end(ws);
  // Every later start inside this segment reaches the same e1 and the same tail.
  auto fail = [&] {
    jwt_fail_until_ = e1;
    return Match{};
  };
  if (e1 - ws < 8 || at(e1) != '.') return fail();
  const size_t s2 = e1 + 1;
  if (at(s2) != 'e' || at(s2 + 1) != 'y' || at(s2 + 2) != 'J') return fail();
  const size_t e2 = segment_end(s2);
  if (e2 - s2 < 8 || at(e2) != '.') return fail();
  const size_t e3 = segment_end(e2 + 1);
  return {PiiType::kJwt, ws, e3};
}

// The first "-----END " at or after `from`, within kPemWindow; n_ if none. Scans each byte about
// once however many BEGIN lines there are.
size_t Scanner::find_pem_end(size_t from) {
  const size_t limit = std::min(n_, from + kPemWindow);
  if (pem_end_valid_ && pem_end_found_ >= from) return pem_end_found_ < limit ? pem_end_found_ : n_;
  // No "-----END " starts in [from, pem_end_clean_to_): what the last search already covered.
  const size_t start = std::max(from, pem_end_clean_to_);
  const std::string_view hay(reinterpret_cast<const char*>(p_), limit);
  const size_t f = start < limit ? hay.find(kPemEnd, start) : std::string_view::npos;
  pem_end_valid_ = f != std::string_view::npos;
  if (pem_end_valid_) {
    pem_end_found_ = f;
    pem_end_clean_to_ = f;
    return f;
  }
  // One could still start in the last few bytes and run past `limit`.
  pem_end_clean_to_ = std::max(start, limit >= kPemEnd.size() ? limit - kPemEnd.size() + 1 : 0);
  return n_;
}

// "-----BEGIN <LABEL>PRIVATE KEY-----" (RSA, EC, DSA, OPENSSH, ENCRYPTED, plain; also
// "PGP PRIVATE KEY BLOCK") through the matching "-----END ...-----" when it follows within 64 KiB,
// else the BEGIN line alone.
Match Scanner::match_pem(size_t s) {
  if (n_ - s < kPemBegin.size() || std::memcmp(p_ + s, kPemBegin.data(), kPemBegin.size()) != 0) return {};
  const size_t label = s + kPemBegin.size();
  size_t e = label;
  while (e < n_ && e - label < kPemLabelMax && (is_upper_alnum(p_[e]) || p_[e] == ' ')) ++e;
  const std::string_view lab(reinterpret_cast<const char*>(p_ + label), e - label);
  if (!(lab.ends_with("PRIVATE KEY") || lab.ends_with("PRIVATE KEY BLOCK"))) return {};
  if (n_ - e < 5 || std::memcmp(p_ + e, "-----", 5) != 0) return {};
  const size_t header_end = e + 5;
  const size_t end_line = find_pem_end(header_end);
  if (end_line < n_) {
    size_t k = end_line + kPemEnd.size();
    while (k < n_ && k - end_line < kPemEnd.size() + kPemLabelMax && (is_upper_alnum(p_[k]) || p_[k] == ' '))
      ++k;
    if (n_ - k >= 5 && std::memcmp(p_ + k, "-----", 5) == 0) return {PiiType::kPrivateKey, s, k + 5};
  }
  return {PiiType::kPrivateKey, s, header_end};
}

}  // namespace dsgw::policies::pii::detail
