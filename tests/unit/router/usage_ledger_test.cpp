#include "router/usage_ledger.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "router/sqlite.h"
#include "tests/unit/test_util.h"

using dsgw::router::LedgerEntry;
using dsgw::router::TenantSpend;
using dsgw::router::UsageLedger;
using dsgw::test::contains;
using dsgw::test::TempDir;
using std::chrono::system_clock;

namespace {

// A UTC instant.
system_clock::time_point utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0,
                             int ms = 0) {
  using namespace std::chrono;
  const sys_days date{year{y} / month{mo} / day{d}};
  return system_clock::time_point(date) + hours(h) + minutes(mi) + seconds(s) + milliseconds(ms);
}

// "lit" + std::to_string() trips g++ 12's -Wrestrict false positive at -O3.
std::string numbered(const char* prefix, int n) {
  std::string out = prefix;
  out += std::to_string(n);
  return out;
}

// Costs are multiples of 1/8 so sums compare exactly.
LedgerEntry entry(const std::string& tenant, system_clock::time_point at, int64_t prompt,
                  int64_t completion, double usd, const std::string& backend = "openai") {
  static std::atomic<int> counter{0};
  LedgerEntry e;
  e.request_id = numbered("req-", counter++);
  e.tenant = tenant;
  e.backend = backend;
  e.model = "gpt-test";
  e.at = at;
  e.prompt_tokens = prompt;
  e.cached_prompt_tokens = prompt / 2;
  e.completion_tokens = completion;
  e.cost_usd = usd;
  e.outcome = "stop";
  return e;
}

std::unique_ptr<UsageLedger> must_open(const std::string& path, system_clock::time_point now) {
  auto ledger = UsageLedger::open(path, now);
  if (!ledger) FAIL("open failed: " << ledger.error().message);
  return std::move(ledger).value();
}

void record(UsageLedger& ledger, const LedgerEntry& e) {
  const auto s = ledger.record(e);
  if (!s) FAIL("record failed: " << s.error().message);
}

void check_spend(const TenantSpend& s, double day_usd, int64_t day_tokens, double month_usd,
                 int64_t month_tokens) {
  CHECK(s.today.usd == day_usd);
  CHECK(s.today.tokens == day_tokens);
  CHECK(s.this_month.usd == month_usd);
  CHECK(s.this_month.tokens == month_tokens);
}

void write_bytes(const std::string& path, const std::string& bytes, std::streamoff at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f.good());
  f.seekp(at);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A closed ledger with enough rows to span many pages, all at `now`.
std::string filled_ledger(const TempDir& dir, system_clock::time_point now) {
  const std::string path = dir.path("ledger.db");
  auto ledger = must_open(path, now);
  for (int i = 0; i < 2000; ++i) record(*ledger, entry(numbered("t", i % 3), now, 10, 5, 0.5));
  return path;
}

}  // namespace

TEST_CASE("ledger: record then spend sums tokens and cost per tenant") {
  TempDir dir;
  const auto now = utc(2024, 3, 15, 12);
  auto ledger = must_open(dir.path("state/usage.db"), now);
  CHECK(ledger->path() == dir.path("state/usage.db"));
  CHECK(std::filesystem::exists(dir.path("state/usage.db")));

  check_spend(ledger->spend("team-a", now), 0, 0, 0, 0);
  record(*ledger, entry("team-a", now, 100, 20, 0.25));
  record(*ledger, entry("team-a", now + std::chrono::minutes(1), 40, 10, 0.125));
  record(*ledger, entry("team-b", now, 7, 3, 1.5));

  // Cached prompt tokens are part of the prompt's, not counted twice.
  check_spend(ledger->spend("team-a", now), 0.375, 170, 0.375, 170);
  check_spend(ledger->spend("team-b", now), 1.5, 10, 1.5, 10);
  check_spend(ledger->spend("nobody", now), 0, 0, 0, 0);
}

TEST_CASE("ledger: the day rolls over at UTC midnight, the month keeps counting") {
  TempDir dir;
  auto ledger = must_open(dir.path("usage.db"), utc(2024, 3, 15, 8));
  const auto before = utc(2024, 3, 15, 23, 59, 59, 999);
  const auto after = utc(2024, 3, 16, 0, 0, 0, 0);
  record(*ledger, entry("a", before, 10, 0, 1.0));
  record(*ledger, entry("a", after, 20, 0, 2.0));

  check_spend(ledger->spend("a", before), 1.0, 10, 3.0, 30);
  check_spend(ledger->spend("a", after), 2.0, 20, 3.0, 30);
  check_spend(ledger->spend("a", utc(2024, 3, 17, 1)), 0, 0, 3.0, 30);

  // A late record for the 15th, after the 16th began: it counts toward the
  // 15th and March, not toward the 16th.
  record(*ledger, entry("a", utc(2024, 3, 15, 22), 1, 0, 0.5));
  check_spend(ledger->spend("a", before), 1.5, 11, 3.5, 31);
  check_spend(ledger->spend("a", after), 2.0, 20, 3.5, 31);
}

TEST_CASE("ledger: the month rolls over at the UTC month and year boundaries") {
  TempDir dir;
  auto ledger = must_open(dir.path("usage.db"), utc(2024, 1, 31, 12));
  record(*ledger, entry("a", utc(2024, 1, 31, 23, 59, 59, 999), 10, 0, 1.0));
  record(*ledger, entry("a", utc(2024, 2, 1), 20, 0, 2.0));
  check_spend(ledger->spend("a", utc(2024, 1, 31, 23, 59)), 1.0, 10, 1.0, 10);
  check_spend(ledger->spend("a", utc(2024, 2, 1, 0, 0, 1)), 2.0, 20, 2.0, 20);
  // Leap day, then the next month.
  record(*ledger, entry("a", utc(2024, 2, 29, 23), 5, 0, 0.5));
  check_spend(ledger->spend("a", utc(2024, 2, 29, 23, 30)), 0.5, 5, 2.5, 25);
  check_spend(ledger->spend("a", utc(2024, 3, 1)), 0, 0, 0, 0);
  // A late January record after February began counts only toward January.
  record(*ledger, entry("a", utc(2024, 1, 31, 20), 1, 0, 0.125));
  check_spend(ledger->spend("a", utc(2024, 2, 29, 23, 30)), 0.5, 5, 2.5, 25);
  check_spend(ledger->spend("a", utc(2024, 1, 31, 23)), 1.125, 11, 1.125, 11);

  TempDir dir2;
  auto ny = must_open(dir2.path("usage.db"), utc(2023, 12, 31, 23));
  record(*ny, entry("b", utc(2023, 12, 31, 23, 59, 59), 3, 0, 0.25));
  record(*ny, entry("b", utc(2024, 1, 1, 0, 0, 1), 4, 0, 0.5));
  check_spend(ny->spend("b", utc(2023, 12, 31, 23, 59, 59, 500)), 0.25, 3, 0.25, 3);
  check_spend(ny->spend("b", utc(2024, 1, 1, 0, 1)), 0.5, 4, 0.5, 4);
}

TEST_CASE("ledger: an entry from an earlier month is stored but counts in no current bucket") {
  TempDir dir;
  const auto now = utc(2024, 6, 10, 12);
  auto ledger = must_open(dir.path("usage.db"), now);
  record(*ledger, entry("a", now, 10, 0, 1.0));
  record(*ledger, entry("a", utc(2024, 4, 1), 1000, 0, 100.0));
  check_spend(ledger->spend("a", now), 1.0, 10, 1.0, 10);
  // Memory never loaded April: it reports nothing rather than a partial total.
  check_spend(ledger->spend("a", utc(2024, 4, 1, 12)), 0, 0, 0, 0);
  const auto rows = ledger->totals_since(utc(2024, 1, 1));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].requests == 2);
  CHECK(rows[0].cost_usd == 101.0);
}

TEST_CASE("ledger: memory keeps a few recent days per tenant, the rest stays in SQL") {
  TempDir dir;
  auto ledger = must_open(dir.path("usage.db"), utc(2024, 3, 1, 1));
  for (unsigned d = 1; d <= 5; ++d) record(*ledger, entry("a", utc(2024, 3, d, 12), d, 0, 1.0));
  // The 3 newest days are whole; older ones read zero, not partial.
  for (unsigned d = 3; d <= 5; ++d) {
    CAPTURE(d);
    check_spend(ledger->spend("a", utc(2024, 3, d, 13)), 1.0, d, 5.0, 15);
  }
  check_spend(ledger->spend("a", utc(2024, 3, 2, 13)), 0, 0, 5.0, 15);
  // A late record for a dropped day does not bring the day back, partial.
  record(*ledger, entry("a", utc(2024, 3, 1, 13), 100, 0, 0.5));
  check_spend(ledger->spend("a", utc(2024, 3, 1, 14)), 0, 0, 5.5, 115);
  check_spend(ledger->spend("a", utc(2024, 3, 5, 14)), 1.0, 5, 5.5, 115);
  CHECK(ledger->totals_since(utc(2024, 3, 1)).at(0).requests == 6);
}

TEST_CASE("ledger: totals survive a restart and reload for the day and month of the new start") {
  TempDir dir;
  const std::string path = dir.path("usage.db");
  const auto now = utc(2024, 5, 20, 12);
  {
    auto ledger = must_open(path, now);
    record(*ledger, entry("a", now, 100, 50, 1.0));                    // today
    record(*ledger, entry("a", utc(2024, 5, 20, 0, 0, 0, 1), 10, 0, 0.5));  // today, early
    record(*ledger, entry("a", utc(2024, 5, 19, 23), 20, 0, 0.25));    // yesterday
    record(*ledger, entry("a", utc(2024, 5, 1), 30, 0, 0.125));        // this month
    record(*ledger, entry("a", utc(2024, 4, 30, 23, 59, 59, 999), 999, 0, 9.0));  // last month
    record(*ledger, entry("b", utc(2024, 5, 2), 1, 1, 2.0));
  }
  {
    // First restart, the same day.
    auto ledger = must_open(path, now + std::chrono::hours(1));
    check_spend(ledger->spend("a", now), 1.5, 160, 1.875, 210);
    check_spend(ledger->spend("a", utc(2024, 5, 19, 23, 30)), 0.25, 20, 1.875, 210);
    check_spend(ledger->spend("b", now), 0, 0, 2.0, 2);
    record(*ledger, entry("a", now + std::chrono::hours(1), 5, 5, 0.5));
  }
  {
    // Second restart, still the same day: the first restart's row counts too.
    auto ledger = must_open(path, now + std::chrono::hours(2));
    check_spend(ledger->spend("a", now + std::chrono::hours(2)), 2.0, 170, 2.375, 220);
  }
  {
    // A restart the next day: today starts at zero, the month does not.
    auto ledger = must_open(path, utc(2024, 5, 21, 9));
    check_spend(ledger->spend("a", utc(2024, 5, 21, 9)), 0, 0, 2.375, 220);
    check_spend(ledger->spend("a", utc(2024, 5, 20, 23)), 2.0, 170, 2.375, 220);
  }
  {
    // A restart in June: both start at zero.
    auto ledger = must_open(path, utc(2024, 6, 1, 0, 5));
    check_spend(ledger->spend("a", utc(2024, 6, 1, 0, 5)), 0, 0, 0, 0);
    CHECK(ledger->totals_since(utc(2024, 1, 1)).size() == 2);
  }
}

TEST_CASE("ledger: totals_since sums per tenant and backend from the given time") {
  TempDir dir;
  const auto now = utc(2024, 7, 4, 12);
  auto ledger = must_open(dir.path("usage.db"), now);
  record(*ledger, entry("b", now, 10, 1, 0.25, "vllm"));
  record(*ledger, entry("a", now, 10, 2, 0.5, "openai"));
  record(*ledger, entry("a", now + std::chrono::seconds(1), 30, 4, 0.25, "openai"));
  record(*ledger, entry("a", now, 8, 8, 0.125, "local"));
  record(*ledger, entry("a", now - std::chrono::hours(1), 1000, 1000, 50.0, "openai"));

  const auto rows = ledger->totals_since(now);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].tenant == "a");
  CHECK(rows[0].backend == "local");
  CHECK(rows[0].requests == 1);
  CHECK(rows[1].tenant == "a");
  CHECK(rows[1].backend == "openai");
  CHECK(rows[1].requests == 2);
  CHECK(rows[1].prompt_tokens == 40);
  CHECK(rows[1].cached_prompt_tokens == 20);
  CHECK(rows[1].completion_tokens == 6);
  CHECK(rows[1].cost_usd == 0.75);
  CHECK(rows[2].tenant == "b");
  CHECK(rows[2].backend == "vllm");
  CHECK(rows[2].cost_usd == 0.25);

  const auto all = ledger->totals_since(now - std::chrono::hours(2));
  REQUIRE(all.size() == 3);
  CHECK(all[1].requests == 3);
  CHECK(all[1].cost_usd == 50.75);
  CHECK(ledger->totals_since(now + std::chrono::hours(1)).empty());
}

TEST_CASE("ledger: 8 threads x 200 records give exact totals in memory, in SQL and after reopen") {
  TempDir dir;
  const std::string path = dir.path("usage.db");
  const auto now = utc(2024, 8, 8, 8);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  {
    auto ledger = must_open(path, now);
    std::atomic<int> failures{0};
    std::atomic<bool> done{false};
    // A reader beside the writers: spend() and totals_since() must not
    // disturb them (nor crash under TSan/ASan).
    std::thread reader([&] {
      while (!done.load()) {
        (void)ledger->spend("t0", now);
        (void)ledger->totals_since(now);
      }
    });
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t) {
      writers.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          const auto at = now + std::chrono::milliseconds(i);
          if (!ledger->record(entry(numbered("t", t % 2), at, 3, 2, 0.125))) ++failures;
        }
      });
    }
    for (auto& w : writers) w.join();
    done = true;
    reader.join();
    CHECK(failures.load() == 0);
    // Each tenant got 4 threads x 200 records.
    for (const char* tenant : {"t0", "t1"}) {
      CAPTURE(tenant);
      check_spend(ledger->spend(tenant, now), 100.0, 4000, 100.0, 4000);
    }
    const auto rows = ledger->totals_since(now);
    REQUIRE(rows.size() == 2);
    for (const auto& row : rows) {
      CHECK(row.requests == kThreads / 2 * kPerThread);
      CHECK(row.prompt_tokens == 2400);
      CHECK(row.completion_tokens == 1600);
      CHECK(row.cost_usd == 100.0);
    }
  }
  auto reopened = must_open(path, now);
  check_spend(reopened->spend("t0", now), 100.0, 4000, 100.0, 4000);
  check_spend(reopened->spend("t1", now), 100.0, 4000, 100.0, 4000);
}

TEST_CASE("ledger: a write waits out another connection's lock instead of failing") {
  TempDir dir;
  const std::string path = dir.path("usage.db");
  const auto now = utc(2024, 9, 1, 12);
  auto ledger = must_open(path, now);
  record(*ledger, entry("a", now, 1, 0, 0.5));

  // Another process's connection: one holds a read transaction (WAL lets the
  // write through), another holds the write lock for a while (busy_timeout
  // makes the write wait for it).
  auto reader = dsgw::router::sqlite::Db::open(path);
  REQUIRE(reader.has_value());
  REQUIRE(reader->exec("BEGIN; SELECT COUNT(*) FROM usage;"));
  auto other = dsgw::router::sqlite::Db::open(path);
  REQUIRE(other.has_value());
  REQUIRE(other->exec("BEGIN IMMEDIATE; INSERT INTO usage (request_id, tenant, backend, model,"
                      " at_ms, prompt_tokens, cached_prompt_tokens, completion_tokens, cost_usd,"
                      " outcome) VALUES ('x', 'a', 'openai', 'm', 0, 0, 0, 0, 0, 'stop');"));
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(other->exec("COMMIT"));
  });
  const auto started = std::chrono::steady_clock::now();
  REQUIRE(ledger->record(entry("a", now, 1, 0, 0.5)));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(100));  // queued, not waiting
  const auto s = ledger->flush();
  const auto waited = std::chrono::steady_clock::now() - started;
  release.join();
  CHECK_MESSAGE(s.is_ok(), (s ? std::string() : s.error().message));
  CHECK(waited >= std::chrono::milliseconds(200));
  CHECK(reader->exec("COMMIT"));
  CHECK(ledger->totals_since(utc(1970, 1, 1)).at(0).requests == 3);

  // Two ledgers on one file (an overlapping restart) both write.
  auto second = must_open(path, now);
  record(*second, entry("a", now, 1, 0, 0.5));
  record(*ledger, entry("a", now, 1, 0, 0.5));
  REQUIRE(ledger->flush());  // its rows, as seen from the other connection
  CHECK(second->totals_since(utc(1970, 1, 1)).at(0).requests == 5);
}

TEST_CASE("ledger: an unwritable location fails with an error naming the path") {
  TempDir dir;
  // The parent "directory" is a regular file: fails even for root.
  dir.write("not-a-dir", "x");
  const std::string path = dir.path("not-a-dir/state/usage.db");
  auto r = UsageLedger::open(path);
  REQUIRE_FALSE(r.has_value());
  INFO(r.error().message);
  CHECK(r.error().code == dsgw::ErrorCode::kInternal);
  CHECK(contains(r.error().message, path));

  // A directory where the file should be.
  std::filesystem::create_directories(dir.path("is-a-dir"));
  auto d = UsageLedger::open(dir.path("is-a-dir"));
  REQUIRE_FALSE(d.has_value());
  INFO(d.error().message);
  CHECK(contains(d.error().message, dir.path("is-a-dir")));

  if (::geteuid() != 0) {  // root ignores permission bits
    std::filesystem::create_directories(dir.path("ro"));
    std::filesystem::permissions(dir.path("ro"), std::filesystem::perms::owner_read |
                                                     std::filesystem::perms::owner_exec);
    auto ro = UsageLedger::open(dir.path("ro/usage.db"));
    CHECK_FALSE(ro.has_value());
    std::filesystem::permissions(dir.path("ro"), std::filesystem::perms::owner_all);
  }
}

TEST_CASE("ledger: a file that is not SQLite fails with SQLite's message and the path") {
  TempDir dir;
  std::string garbage;
  for (int i = 0; i < 8192; ++i) garbage.push_back(static_cast<char>((i * 131 + 7) % 256));
  const std::string path = dir.write("usage.db", garbage);
  auto r = UsageLedger::open(path);
  REQUIRE_FALSE(r.has_value());
  INFO(r.error().message);
  CHECK(contains(r.error().message, path));
  CHECK(contains(r.error().message, "not a database"));
  // The file is left as it was.
  CHECK(std::filesystem::file_size(path) == garbage.size());
}

TEST_CASE("ledger: a truncated or corrupt file fails to open with a clear error") {
  const auto now = utc(2024, 10, 10, 10);
  SUBCASE("truncated to half") {
    TempDir dir;
    const std::string path = filled_ledger(dir, now);
    std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
    auto r = UsageLedger::open(path, now);
    REQUIRE_FALSE(r.has_value());
    INFO(r.error().message);
    CHECK(contains(r.error().message, path));
    CHECK(contains(r.error().message, "malformed"));
  }
  SUBCASE("truncated inside the first page") {
    TempDir dir;
    const std::string path = filled_ledger(dir, now);
    std::filesystem::resize_file(path, 1000);
    auto r = UsageLedger::open(path, now);
    REQUIRE_FALSE(r.has_value());
    INFO(r.error().message);
    CHECK(contains(r.error().message, path));
  }
  SUBCASE("schema page overwritten") {
    TempDir dir;
    const std::string path = filled_ledger(dir, now);
    write_bytes(path, std::string(800, '\xa5'), 100);
    auto r = UsageLedger::open(path, now);
    REQUIRE_FALSE(r.has_value());
    INFO(r.error().message);
    CHECK(contains(r.error().message, path));
    CHECK(contains(r.error().message, "malformed"));
  }
}

TEST_CASE("ledger: a file from a newer schema is refused, an equal one is reused") {
  TempDir dir;
  const std::string path = dir.path("usage.db");
  const auto now = utc(2024, 11, 11);
  {
    auto ledger = must_open(path, now);
    record(*ledger, entry("a", now, 1, 0, 0.5));
  }
  {
    auto db = dsgw::router::sqlite::Db::open(path);
    REQUIRE(db.has_value());
    CHECK(db->query_int("PRAGMA user_version").value() == UsageLedger::kSchemaVersion);
    CHECK(db->query_text("PRAGMA journal_mode").value() == "wal");
    REQUIRE(db->exec("PRAGMA user_version = 99"));
  }
  auto r = UsageLedger::open(path, now);
  REQUIRE_FALSE(r.has_value());
  INFO(r.error().message);
  CHECK(contains(r.error().message, path));
  CHECK(contains(r.error().message, "99"));
}

TEST_CASE("ledger: entries with negative or non-finite amounts are refused and not counted") {
  TempDir dir;
  const auto now = utc(2024, 12, 1, 1);
  auto ledger = must_open(dir.path("usage.db"), now);
  auto nan = entry("a", now, 1, 1, 0);
  nan.cost_usd = std::numeric_limits<double>::quiet_NaN();
  CHECK_FALSE(ledger->record(nan));
  CHECK_FALSE(ledger->record(entry("a", now, -5, 1, 0.5)));
  CHECK_FALSE(ledger->record(entry("a", now, 1, 1, -0.5)));
  check_spend(ledger->spend("a", now), 0, 0, 0, 0);
  CHECK(ledger->totals_since(now).empty());
}

TEST_CASE("ledger: rows that cannot be written are reported by flush(), and still count in memory") {
  TempDir dir;
  const std::string path = dir.path("usage.db");
  const auto now = utc(2024, 9, 2, 12);
  auto ledger = must_open(path, now);
  record(*ledger, entry("a", now, 1, 0, 0.5));
  REQUIRE(ledger->flush());

  // Someone drops the table under the running daemon.
  auto other = dsgw::router::sqlite::Db::open(path);
  REQUIRE(other.has_value());
  REQUIRE(other->exec("DROP TABLE usage"));

  record(*ledger, entry("a", now, 2, 0, 0.25));  // queued: record() itself cannot know
  CHECK(ledger->totals_since(now).empty());       // waits for the batch; leaves its failure to flush()
  const auto s = ledger->flush();
  REQUIRE_FALSE(s.is_ok());
  INFO(s.error().message);
  CHECK(contains(s.error().message, path));
  CHECK(contains(s.error().message, "no such table"));
  check_spend(ledger->spend("a", now), 0.75, 3, 0.75, 3);
}

TEST_CASE("ledger: a reservation counts in spend() until it is released, once") {
  TempDir dir;
  const auto now = utc(2024, 9, 3, 12);
  auto ledger = must_open(dir.path("usage.db"), now);
  record(*ledger, entry("a", now, 10, 0, 1.0));

  std::vector<TenantSpend> seen;
  auto hold = [&](double usd, int64_t tokens) {
    return ledger->reserve("a", now, [&](const TenantSpend& s) {
      seen.push_back(s);
      return dsgw::router::Spend{usd, tokens};
    });
  };
  auto first = hold(0.5, 100);
  check_spend(ledger->spend("a", now), 1.5, 110, 1.5, 110);
  {
    auto second = hold(0.25, 50);
    REQUIRE(seen.size() == 2);
    CHECK(seen[1].today.usd == 1.5);  // the second decision saw the first's hold
    check_spend(ledger->spend("a", now), 1.75, 160, 1.75, 160);
    auto moved = std::move(second);  // a move transfers the hold, it does not release it twice
    check_spend(ledger->spend("a", now), 1.75, 160, 1.75, 160);
  }
  check_spend(ledger->spend("a", now), 1.5, 110, 1.5, 110);
  first = {};
  check_spend(ledger->spend("a", now), 1.0, 10, 1.0, 10);
  check_spend(ledger->spend("b", now), 0, 0, 0, 0);  // holds are per tenant
  auto nothing = hold(0, 0);
  check_spend(ledger->spend("a", now), 1.0, 10, 1.0, 10);
}
