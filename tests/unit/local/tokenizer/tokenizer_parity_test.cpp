// Acceptance test: dsgw's tokenizer against @lenml/tokenizers (a port of
// transformers.js' tokenizers) on the strings that
// tests/support/tokenizers/reference_encodings.mjs generates, for
// DeepSeek-R1-Distill-Qwen's and Llama-3.1's vocabularies. Every string must
// encode to the same ids, except where the reference is demonstrably not what
// HF tokenizers does (see Divergence below). Also checks decode(encode(s)),
// our NFC against the JavaScript engine's, and measures encode throughput.
//
// Usage: dsgw_tokenizer_parity REFERENCE.json
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/local/tokenizer/nfc.h"
#include "backends/local/tokenizer/tokenizer.h"
#include "backends/local/tokenizer/unicode_data.h"
#include "backends/local/tokenizer/utf8_codec.h"

namespace {

using dsgw::local::TokenId;
using dsgw::local::Tokenizer;
using Clock = std::chrono::steady_clock;

// Why the reference may legitimately differ from HF tokenizers on a string.
enum class Divergence {
  kNone,
  // The string holds a code point that is unassigned in our tables' Unicode
  // version (Python's unicodedata) but assigned in the Unicode of the Node
  // that ran the reference (V8's \p{L}/\p{N} and ICU's NFC). Its class and
  // normalisation differ by version, so neither side is wrong; HF's own
  // engines (Oniguruma, Rust `regex`) each carry yet another version.
  kUnicodeVersion,
  // U+0085 NEXT LINE or U+FEFF: JavaScript's \s has U+FEFF and lacks U+0085;
  // HF's engines use Unicode White_Space, which is the other way round.
  kWhiteSpaceClass,
  // "'ſ": HF's engines fold U+017F LONG S to s inside (?i:'s|...); the
  // reference rewrites that group as ASCII [sS] and does not.
  kCaseFold,
};

const char* name_of(Divergence d) {
  switch (d) {
    case Divergence::kNone: return "none";
    case Divergence::kUnicodeVersion: return "Unicode version";
    case Divergence::kWhiteSpaceClass: return "\\s class (U+0085/U+FEFF)";
    case Divergence::kCaseFold: return "case fold of U+017F";
  }
  return "?";
}

Divergence divergence_of(std::string_view s) {
  Divergence found = Divergence::kNone;
  char32_t previous = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t len = 0;
    const char32_t cp = dsgw::local::utf8::decode(s, pos, len);
    pos += len;
    if (!dsgw::local::unicode::is_assigned(cp)) return Divergence::kUnicodeVersion;
    if (cp == 0x85 || cp == 0xFEFF) found = Divergence::kWhiteSpaceClass;
    if (cp == 0x17F && previous == '\'' && found == Divergence::kNone) found = Divergence::kCaseFold;
    previous = cp;
  }
  return found;
}

std::string escaped(std::string_view s, size_t limit = 160) {
  std::string out;
  size_t pos = 0;
  while (pos < s.size() && out.size() < limit) {
    size_t len = 0;
    const char32_t cp = dsgw::local::utf8::decode(s, pos, len);
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || cp == 0xFEFF || (cp >= 0x300 && cp < 0x370)) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "\\u{%X}", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out.append(s.substr(pos, len));
    }
    pos += len;
  }
  if (pos < s.size()) out += "...";
  return out;
}

std::string ids_text(const std::vector<TokenId>& ids, size_t from) {
  std::string out = "[";
  const size_t begin = from > 3 ? from - 3 : 0;
  if (begin > 0) out += "... ";
  for (size_t i = begin; i < ids.size() && i < from + 6; ++i) out += std::to_string(ids[i]) + (i + 1 < ids.size() ? ", " : "");
  if (from + 6 < ids.size()) out += "...";
  return out + "]";
}

struct Totals {
  int passed = 0;
  int failed = 0;
  void check(bool ok, const std::string& what) {
    if (ok) {
      ++passed;
    } else {
      ++failed;
      std::cout << "FAILED: " << what << "\n";
    }
  }
};

void run_vocabulary(const nlohmann::json& vocab, const std::vector<std::string>& strings,
                    const std::vector<std::string>& js_nfc, Totals& totals) {
  const std::string name = vocab.at("name").get<std::string>();
  const std::string json_path = vocab.at("tokenizer_json").get<std::string>();
  const std::string config_path = vocab.at("tokenizer_config").is_string() ? vocab["tokenizer_config"].get<std::string>() : "";
  const auto load_start = Clock::now();
  auto loaded = Tokenizer::load_files(json_path, config_path);
  if (!loaded) {
    totals.check(false, name + ": load: " + loaded.error().message);
    return;
  }
  const double load_s = std::chrono::duration<double>(Clock::now() - load_start).count();
  const Tokenizer& tok = *loaded;
  const auto& expected = vocab.at("ids");
  const bool is_qwen = name == "r1-distill-qwen";

  // Special ids the engine relies on.
  if (is_qwen) {
    totals.check(tok.vocab_size() == 151665, name + ": vocab size " + std::to_string(tok.vocab_size()));
    totals.check(tok.bos_id() == 151646 && tok.eos_id() == 151643, name + ": BOS/EOS");
    totals.check(tok.token_to_id("<think>") == 151648 && tok.token_to_id("</think>") == 151649, name + ": think ids");
    totals.check(!tok.is_special(151648) && tok.is_special(151643), name + ": special flags");
  } else {
    totals.check(tok.vocab_size() == 128256, name + ": vocab size " + std::to_string(tok.vocab_size()));
    totals.check(tok.bos_id() == 128000 && tok.eos_id() == 128009, name + ": BOS/EOS");
  }

  int matched = 0;
  int mismatched = 0;
  int roundtrip_failures = 0;
  std::map<Divergence, int> excluded;
  std::map<Divergence, int> divergent_but_matching;
  size_t bytes = 0;
  std::vector<std::vector<TokenId>> got(strings.size());
  const auto cold_start = Clock::now();
  for (size_t i = 0; i < strings.size(); ++i) {
    auto ids = tok.encode(strings[i], true);
    if (!ids) {
      totals.check(false, name + ": encode error on string " + std::to_string(i) + ": " + ids.error().message);
      continue;
    }
    got[i] = std::move(*ids);
    bytes += strings[i].size();
  }
  const double cold_s = std::chrono::duration<double>(Clock::now() - cold_start).count();

  for (size_t i = 0; i < strings.size(); ++i) {
    const auto want = expected.at(i).get<std::vector<TokenId>>();
    const Divergence divergence = divergence_of(strings[i]);
    if (got[i] == want) {
      ++matched;
      if (divergence != Divergence::kNone) ++divergent_but_matching[divergence];
    } else if (divergence != Divergence::kNone) {
      if (++excluded[divergence] <= 5) {
        std::cout << "excluded " << name << " #" << i << " (" << name_of(divergence) << "): \""
                  << escaped(strings[i]) << "\"\n";
      }
    } else {
      ++mismatched;
      size_t at = 0;
      while (at < got[i].size() && at < want.size() && got[i][at] == want[at]) ++at;
      if (mismatched <= 15) {
        std::cout << "MISMATCH " << name << " #" << i << " \"" << escaped(strings[i]) << "\"\n  at id " << at
                  << ": want " << ids_text(want, at) << "\n          got  " << ids_text(got[i], at) << "\n";
      }
    }
    // decode(encode(s)) gives back s, normalised when the tokenizer normalises.
    const std::string original = is_qwen ? dsgw::local::nfc_normalize(strings[i]) : strings[i];
    auto text = tok.decode(got[i]);
    auto plain = tok.encode(strings[i], false);
    auto plain_text = plain ? tok.decode(*plain) : dsgw::Result<std::string>(plain.error());
    if (!text || *text != original || !plain_text || *plain_text != original) {
      if (++roundtrip_failures <= 5) std::cout << "ROUNDTRIP " << name << " #" << i << " \"" << escaped(strings[i]) << "\"\n";
    }
  }
  totals.check(mismatched == 0, name + ": " + std::to_string(mismatched) + " strings encode differently from the reference");
  totals.check(roundtrip_failures == 0, name + ": " + std::to_string(roundtrip_failures) + " strings fail decode(encode(s))");

  // Our NFC against ICU's (through String.prototype.normalize), once.
  if (is_qwen) {
    int nfc_failures = 0;
    for (size_t i = 0; i < strings.size(); ++i) {
      if (divergence_of(strings[i]) == Divergence::kUnicodeVersion) continue;
      if (dsgw::local::nfc_normalize(strings[i]) != js_nfc[i]) {
        if (++nfc_failures <= 5) std::cout << "NFC differs on #" << i << " \"" << escaped(strings[i]) << "\"\n";
      }
    }
    totals.check(nfc_failures == 0, name + ": " + std::to_string(nfc_failures) + " strings normalise differently from ICU");
  }

  // Throughput: the cold pass above filled the piece cache; now warm.
  const auto warm_start = Clock::now();
  size_t warm_tokens = 0;
  for (const std::string& s : strings) warm_tokens += tok.encode(s, true)->size();
  const double warm_s = std::chrono::duration<double>(Clock::now() - warm_start).count();

  std::cout << name << ": " << strings.size() << " strings, " << matched << " identical, " << mismatched
            << " mismatched";
  for (const auto& [d, n] : excluded) std::cout << ", " << n << " excluded (" << name_of(d) << ")";
  std::cout << "\n";
  for (const auto& [d, n] : divergent_but_matching) {
    std::cout << "  (" << n << " strings with a " << name_of(d) << " divergence still match)\n";
  }
  std::printf("  load %.2f s; encode %.0f KB: cold cache %.2f MB/s, warm %.2f MB/s (%zu tokens)\n", load_s,
              static_cast<double>(bytes) / 1024.0, static_cast<double>(bytes) / 1e6 / cold_s,
              static_cast<double>(bytes) / 1e6 / warm_s, warm_tokens);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: dsgw_tokenizer_parity REFERENCE.json\n";
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::cerr << argv[1] << ": cannot open (run tests/support/tokenizers/reference_encodings.mjs)\n";
    return 1;
  }
  nlohmann::json reference;
  try {
    reference = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    std::cerr << argv[1] << ": " << e.what() << "\n";
    return 1;
  }
  const auto strings = reference.at("strings").get<std::vector<std::string>>();
  const auto js_nfc = reference.at("nfc").get<std::vector<std::string>>();
  std::cout << "reference: " << strings.size() << " strings, Node " << reference.value("node", "?") << " (Unicode "
            << reference.value("unicode", "?") << "); our tables: Unicode " << dsgw::local::unicode::kUnicodeVersion
            << "\n";
  Totals totals;
  for (const auto& vocab : reference.at("vocabularies")) run_vocabulary(vocab, strings, js_nfc, totals);
  std::cout << totals.passed << " passed, " << totals.failed << " failed\n";
  return totals.failed == 0 ? 0 : 1;
}
