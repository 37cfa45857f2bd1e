// Throughput of the PII/secret detector (policies/pii) on one core.
//
// Builds ~64 MB of mixed text in memory, deterministically (fixed seed): English prose, Chinese,
// C++/Python code, digit-heavy tables (dates, times, prices, versions, UUIDs, hashes), with a
// value of every detected type planted every few KB. Scans it several times and compares with
// two yardsticks over the same buffer in the same run: memchr for an absent byte (about memory
// bandwidth) and a byte-at-a-time table loop (the floor for any scanner that looks at every
// byte). The planted count is printed beside the findings: the filler is built to hold no PII,
// so a difference is a detector miss or a false positive, broken down by type.
//
// usage: bench_pii_detector [--mb 64] [--runs 5]
#include <time.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "policies/pii/detector.h"

namespace {

using Clock = std::chrono::steady_clock;
using dsgw::policies::pii::Detector;
using dsgw::policies::pii::Finding;
using dsgw::policies::pii::kPiiTypeCount;
using dsgw::policies::pii::PiiType;

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {  // splitmix64
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
  template <typename T, size_t N>
  const T& pick(const std::array<T, N>& a) {
    return a[below(N)];
  }
  std::string digits(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += static_cast<char>('0' + below(10));
    return s;
  }
  std::string chars(std::string_view alphabet, int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += alphabet[below(alphabet.size())];
    return s;
  }

 private:
  uint64_t s_;
};

constexpr std::string_view kAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::string_view kUpperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::string_view kHexLower = "0123456789abcdef";

const std::array<std::string_view, 64> kWords = {
    "the",     "of",      "and",     "to",      "in",       "is",       "that",    "for",
    "it",      "as",      "was",     "with",    "be",       "by",       "on",      "not",
    "he",      "this",    "are",     "or",      "his",      "from",     "at",      "which",
    "but",     "have",    "an",      "had",     "they",     "you",      "were",    "their",
    "one",     "all",     "we",      "can",     "her",      "has",      "there",   "been",
    "if",      "more",    "when",    "will",    "would",    "who",      "so",      "no",
    "model",   "request", "gateway", "latency", "customer", "invoice",  "deploy",  "server",
    "account", "policy",  "summary", "please",  "report",   "schedule", "meeting", "quarter",
};

// Common Chinese characters (UTF-8) and full-width punctuation.
const std::array<std::string_view, 48> kHanzi = {
    "的", "一", "是", "不", "了", "人", "我", "在", "有", "他", "这", "中", "大", "来", "上", "国",
    "个", "到", "说", "们", "为", "子", "和", "你", "地", "出", "道", "也", "时", "年", "得", "就",
    "那", "要", "下", "以", "生", "会", "自", "着", "去", "之", "过", "家", "学", "对", "可", "她",
};
const std::array<std::string_view, 4> kHanziPunct = {"，", "。", "、", "："};

const std::array<std::string_view, 16> kCode = {
    "for (int i = 0; i < n; ++i) {\n",
    "  std::vector<std::string> names;\n",
    "  const auto t0 = std::chrono::steady_clock::now();\n",
    "  return std::move(buffer);\n",
    "}\n",
    "def handle(self, request, timeout=30):\n",
    "    if x[1::2] == y[::-1]:\n",
    "        raise ValueError(f\"bad value {value!r}\")\n",
    "# TODO(alice): retry at 12:30:45 with backoff 2.5s\n",
    "    mask = 0xDEADBEEF & flags  // see RFC 5322 3.4.1\n",
    "import numpy as np  # version 1.26.4\n",
    "    result = a @ b.T + bias\n",
    "  auto it = map.find(key); if (it == map.end()) return nullptr;\n",
    "    logger.info(\"done in %d ms\", elapsed)\n",
    "SELECT id, total FROM orders WHERE created_at > '2024-03-15 08:00:00';\n",
    "  std::unordered_map<std::string, int> counts{};\n",
};

std::string luhn_complete(const std::string& payload) {
  int sum = 0;
  for (size_t i = 0; i < payload.size(); ++i) {
    int d = payload[payload.size() - 1 - i] - '0';
    if (i % 2 == 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return payload + static_cast<char>('0' + (10 - sum % 10) % 10);
}

std::string id_complete(const std::string& d17) {
  static const int kW[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  for (int i = 0; i < 17; ++i) sum += (d17[static_cast<size_t>(i)] - '0') * kW[i];
  return d17 + "10X98765432"[sum % 11];
}

std::string iban_complete(const std::string& country, const std::string& bban) {
  int rem = 0;
  const std::string rearranged = bban + country + "00";
  for (char c : rearranged) {
    rem = c >= 'A' ? (rem * 100 + (c - 'A' + 10)) % 97 : (rem * 10 + (c - '0')) % 97;
  }
  const int check = 98 - rem;
  return country + static_cast<char>('0' + check / 10) + static_cast<char>('0' + check % 10) + bban;
}

// Joins pieces (g++ 12 at -O3 warns falsely on `"literal" + std::string&&`).
template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::string s;
  (s.append(std::string_view(parts)), ...);
  return s;
}

std::string num(size_t v) { return std::to_string(v); }

// One valid value of `type`, in one of its written forms.
std::string plant(PiiType type, Rng& r) {
  switch (type) {
    case PiiType::kCreditCard: {
      const size_t network = r.below(4);
      const std::string card = luhn_complete(network == 0   ? cat("4", r.digits(14))     // Visa
                                             : network == 1 ? cat("51", r.digits(13))    // Mastercard
                                             : network == 2 ? cat("62", r.digits(13))    // UnionPay
                                                            : cat("37", r.digits(12)));  // Amex
      if (r.below(2) == 0) return card;
      std::string grouped;
      for (size_t i = 0; i < card.size(); i += 4) {
        if (i) grouped += ' ';
        grouped += card.substr(i, 4);
      }
      return grouped;
    }
    case PiiType::kIban:
      return r.below(2) ? iban_complete("DE", r.digits(18)) : iban_complete("GB", cat("WEST", r.digits(14)));
    case PiiType::kCnResidentId: {
      const int year = 1950 + static_cast<int>(r.below(60));
      char date[16];
      std::snprintf(date, sizeof date, "%04d%02d%02d", year, 1 + static_cast<int>(r.below(12)),
                    1 + static_cast<int>(r.below(28)));
      return id_complete(cat("110105", date, r.digits(3)));
    }
    case PiiType::kCnMobile:
      return cat(r.below(2) ? "+86 " : "", "13", r.digits(9));
    case PiiType::kPhone:
      return cat("+44 20 ", r.digits(4), " ", r.digits(4));
    case PiiType::kEmail:
      return cat(r.pick(kWords), ".", r.pick(kWords), "@example.com");
    case PiiType::kIpv4:
      return cat("10.", num(r.below(256)), ".", num(r.below(256)), ".", num(1 + r.below(254)));
    case PiiType::kIpv6:
      return cat("2001:db8::", r.chars(kHexLower, 1 + static_cast<int>(r.below(4))));
    case PiiType::kAwsAccessKey:
      return cat("AKIA", r.chars(kUpperAlnum, 16));
    case PiiType::kGithubToken:
      return cat("ghp_", r.chars(kAlnum, 36));
    case PiiType::kPrivateKey:
      return cat("-----BEGIN RSA PRIVATE KEY-----\nMIIEow", r.chars(kAlnum, 64),
                 "\n-----END RSA PRIVATE KEY-----");
    case PiiType::kApiKey:
      return cat("sk-proj-", r.chars(kAlnum, 48));
    case PiiType::kJwt:
      return cat("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI", r.chars(kAlnum, 24), ".", r.chars(kAlnum, 43));
  }
  return {};
}

// Filler that holds no PII: every number is short, broken up, or not at a boundary.
void append_filler(std::string& out, Rng& r) {
  switch (r.below(8)) {
    case 0:
    case 1:
    case 2: {  // English prose
      const size_t words = 20 + r.below(60);
      for (size_t i = 0; i < words; ++i) {
        out += r.pick(kWords);
        const size_t k = r.below(40);
        if (k == 0) out += cat(" ", num(1990 + r.below(40)));
        if (k == 1) out += cat(" $", num(r.below(1000)), ".", r.digits(2));
        if (k == 2) out += cat(" ", num(r.below(100)), "%");
        out += k == 3 ? ". " : k == 4 ? ", " : " ";
      }
      out += "\n";
      break;
    }
    case 3:
    case 4: {  // Chinese
      const size_t chars = 30 + r.below(90);
      for (size_t i = 0; i < chars; ++i) {
        out += r.pick(kHanzi);
        const size_t k = r.below(30);
        if (k == 0) out += r.pick(kHanziPunct);
        if (k == 1) out += cat(num(2000 + r.below(25)), "年", num(1 + r.below(12)), "月");
      }
      out += "。\n";
      break;
    }
    case 5:
    case 6: {  // code
      const size_t lines = 3 + r.below(10);
      for (size_t i = 0; i < lines; ++i) out += r.pick(kCode);
      break;
    }
    default: {  // digits: a table row, ids, hashes
      out += cat("| ", num(2015 + r.below(10)), "-0", num(1 + r.below(9)), "-1", num(r.below(10)), " | ",
                 num(r.below(24)), ":", r.digits(2), ":", r.digits(2), " | ", num(r.below(100000)), " | ",
                 num(r.below(1000)), ".", r.digits(2), " | v", num(r.below(5)), ".", num(r.below(20)), ".",
                 num(r.below(10)), " | ORD-", r.digits(8), " | ");
      out +=
          cat(r.chars(kHexLower, 8), "-", r.chars(kHexLower, 4), "-4", r.chars(kHexLower, 3), "-a",
              r.chars(kHexLower, 3), "-", r.chars(kHexLower, 12), " | sha ", r.chars(kHexLower, 40), " |\n");
      break;
    }
  }
}

double mb_per_s(size_t bytes, double seconds) { return static_cast<double>(bytes) / 1e6 / seconds; }

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Wall-clock best and median, and the best thread CPU time: on a shared machine the CPU time
// shows what one core does when it is not taken away.
struct Timing {
  double best = 0;
  double median = 0;
  double cpu_best = 0;
};

template <typename F>
Timing time_runs(int runs, F&& f) {
  std::vector<double> wall;
  std::vector<double> cpu;
  for (int i = 0; i < runs; ++i) {
    const double c0 = thread_cpu_seconds();
    const auto a = Clock::now();
    f();
    wall.push_back(std::chrono::duration<double>(Clock::now() - a).count());
    cpu.push_back(thread_cpu_seconds() - c0);
  }
  std::sort(wall.begin(), wall.end());
  return {wall.front(), wall[wall.size() / 2], *std::min_element(cpu.begin(), cpu.end())};
}

}  // namespace

int main(int argc, char** argv) {
  size_t mb = 64;
  int runs = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--mb") == 0) mb = static_cast<size_t>(std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::max(1, std::atoi(argv[i + 1]));
  }
  const size_t target = mb * 1000 * 1000;

  Rng rng(20261128);
  std::string text;
  text.reserve(target + 4096);
  std::array<size_t, kPiiTypeCount> planted{};
  size_t next_plant = 0;
  while (text.size() < target) {
    append_filler(text, rng);
    if (text.size() >= next_plant) {
      const auto type = static_cast<PiiType>(rng.below(kPiiTypeCount));
      text += " ";
      text += plant(type, rng);
      text += " \n";
      ++planted[static_cast<size_t>(type)];
      next_plant = text.size() + 1024 + rng.below(6144);
    }
  }
  size_t planted_total = 0;
  for (size_t n : planted) planted_total += n;

  const Detector detector;
  std::vector<Finding> findings;
  findings.reserve(planted_total * 2);
  const Timing scan = time_runs(runs, [&] {
    findings.clear();
    detector.scan(text, findings);
  });

  const Timing mem = time_runs(runs, [&] {
    const void* hit = std::memchr(text.data(), 0x01, text.size());
    asm volatile("" : : "r"(hit) : "memory");  // neither hoisted nor dropped
  });

  // A byte-at-a-time table loop: what any scanner that dispatches on every byte pays at least.
  std::array<uint8_t, 256> table{};
  for (int c : {int{'+'}, int{'@'}, int{':'}, int{'-'}, 0xEF}) table[static_cast<size_t>(c)] = 1;
  const Timing loop = time_runs(runs, [&] {
    size_t hits = 0;
    const auto* p = reinterpret_cast<const uint8_t*>(text.data());
    for (size_t i = 0; i < text.size(); ++i) {
      if (table[p[i]]) {
        ++hits;
        asm volatile("" : "+r"(hits));  // keep it a per-byte loop
      }
    }
    asm volatile("" : : "r"(hits) : "memory");
  });

  std::array<size_t, kPiiTypeCount> got{};
  for (const Finding& f : findings) ++got[static_cast<size_t>(f.type)];

  std::printf("bench_pii_detector: %.1f MB mixed text (prose, Chinese, code, digits), %d runs, 1 thread\n\n",
              static_cast<double>(text.size()) / 1e6, runs);
  const size_t bytes = text.size();
  auto row = [&](const char* pass, const Timing& t, const std::string& found, const std::string& want) {
    std::printf("| %s | %.0f | %.0f | %.0f | %s | %s |\n", pass, mb_per_s(bytes, t.best),
                mb_per_s(bytes, t.median), mb_per_s(bytes, t.cpu_best), found.c_str(), want.c_str());
  };
  std::printf("| pass | MB/s best | MB/s median | MB/s per CPU-second | findings | planted |\n");
  std::printf("|---|---|---|---|---|---|\n");
  row("Detector::scan", scan, std::to_string(findings.size()), std::to_string(planted_total));
  row("yardstick: byte-table loop", loop, "", "");
  row("yardstick: memchr (absent byte)", mem, "", "");
  bool mismatch = false;
  for (int t = 0; t < kPiiTypeCount; ++t)
    mismatch |= got[static_cast<size_t>(t)] != planted[static_cast<size_t>(t)];
  if (mismatch) {
    std::printf("\nfound/planted by type (a difference is a miss or a false positive):\n");
    for (int t = 0; t < kPiiTypeCount; ++t) {
      std::printf("  %-15s %zu/%zu\n",
                  std::string(dsgw::policies::pii::name(static_cast<PiiType>(t))).c_str(),
                  got[static_cast<size_t>(t)], planted[static_cast<size_t>(t)]);
    }
  }
  return mismatch ? 1 : 0;
}
