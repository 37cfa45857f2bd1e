#include "router/usage_ledger.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iterator>
#include <system_error>
#include <utility>

#include "common/log.h"

namespace dsgw::router {
namespace {

using std::chrono::system_clock;

constexpr int64_t kMsPerDay = 24LL * 60 * 60 * 1000;

// Schema migrations: kMigrations[i] takes user_version i to i + 1. Append only.
constexpr const char* kMigrations[] = {
    // 0 -> 1
    "CREATE TABLE usage ("
    "  id INTEGER PRIMARY KEY,"
    "  request_id TEXT NOT NULL,"
    "  tenant TEXT NOT NULL,"
    "  backend TEXT NOT NULL,"
    "  model TEXT NOT NULL,"
    "  at_ms INTEGER NOT NULL,"  // unix milliseconds, UTC: when the request ended
    "  prompt_tokens INTEGER NOT NULL,"
    "  cached_prompt_tokens INTEGER NOT NULL,"
    "  completion_tokens INTEGER NOT NULL,"
    "  cost_usd REAL NOT NULL,"
    "  outcome TEXT NOT NULL"
    ");"
    "CREATE INDEX usage_tenant_at ON usage (tenant, at_ms);"
    // Start-up loads and reports select by time across all tenants.
    "CREATE INDEX usage_at ON usage (at_ms);",
};
static_assert(std::size(kMigrations) == UsageLedger::kSchemaVersion);

constexpr const char* kInsertSql =
    "INSERT INTO usage (request_id, tenant, backend, model, at_ms, prompt_tokens,"
    " cached_prompt_tokens, completion_tokens, cost_usd, outcome)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

// ?1 is the start of a UTC day, so the integer division is a floor.
constexpr const char* kLoadSql =
    "SELECT tenant, (at_ms - ?1) / 86400000 AS d, SUM(prompt_tokens + completion_tokens),"
    " SUM(cost_usd) FROM usage WHERE at_ms >= ?1 GROUP BY tenant, d ORDER BY tenant, d";

constexpr const char* kTotalsSql =
    "SELECT tenant, backend, COUNT(*), SUM(prompt_tokens), SUM(cached_prompt_tokens),"
    " SUM(completion_tokens), SUM(cost_usd) FROM usage WHERE at_ms >= ?1"
    " GROUP BY tenant, backend ORDER BY tenant, backend";

int64_t to_ms(system_clock::time_point t) {
  return std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

int64_t day_of_ms(int64_t ms) {
  int64_t day = ms / kMsPerDay;
  if (ms % kMsPerDay < 0) --day;
  return day;
}

// Months since January of year 0.
int64_t month_of_day(int64_t day) {
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{day}}};
  return static_cast<int64_t>(static_cast<int>(ymd.year())) * 12 +
         static_cast<int64_t>(static_cast<unsigned>(ymd.month())) - 1;
}

int64_t first_day_of_month(int64_t month) {
  const std::chrono::year y{static_cast<int>(month / 12)};
  const std::chrono::month m{static_cast<unsigned>(month % 12) + 1};
  return std::chrono::sys_days{y / m / 1}.time_since_epoch().count();
}

Error ledger_error(const std::string& path, std::string_view what, const std::string& detail) {
  std::string message = "usage ledger " + path + ": " + std::string(what);
  if (!detail.empty()) message += ": " + detail;
  return make_error(ErrorCode::kInternal, std::move(message));
}

// Opens one connection with the settings both of ours share.
Result<sqlite::Db> connect(const std::string& path) {
  auto db = sqlite::Db::open(path);
  if (!db) return ledger_error(path, "cannot open", db.error().message);
  db->set_busy_timeout_ms(UsageLedger::kBusyTimeoutMs);
  // The first statement that reads the file: garbage fails here.
  auto mode = db->query_text("PRAGMA journal_mode=WAL");
  if (!mode) return ledger_error(path, "cannot open", mode.error().message);
  if (*mode != "wal") {
    log::warn("ledger.no_wal").kv("path", path).kv("journal_mode", *mode);
  }
  if (auto s = db->exec("PRAGMA synchronous=NORMAL"); !s) {
    return ledger_error(path, "cannot set synchronous=NORMAL", s.error().message);
  }
  if (db->read_only()) return ledger_error(path, "cannot open", "the file is read-only");
  return db;
}

Status migrate(sqlite::Db& db, const std::string& path) {
  auto version = db.query_int("PRAGMA user_version");
  if (!version) return ledger_error(path, "cannot read the schema version", version.error().message);
  if (*version == UsageLedger::kSchemaVersion) return Status::ok();
  if (*version > UsageLedger::kSchemaVersion) {
    return ledger_error(path, "schema version " + std::to_string(*version) +
                                  " is newer than this dsgw's " +
                                  std::to_string(UsageLedger::kSchemaVersion), "");
  }
  if (auto s = db.exec("BEGIN IMMEDIATE"); !s) {
    return ledger_error(path, "cannot start the schema migration", s.error().message);
  }
  auto fail = [&](std::string_view what, const Error& e) {
    db.exec("ROLLBACK");
    return ledger_error(path, what, e.message);
  };
  // Another process may have migrated between the read above and the lock.
  version = db.query_int("PRAGMA user_version");
  if (!version) return fail("cannot read the schema version", version.error());
  if (*version < 0 || *version > UsageLedger::kSchemaVersion) {
    db.exec("ROLLBACK");
    return ledger_error(path, "unexpected schema version " + std::to_string(*version), "");
  }
  for (int64_t v = *version; v < UsageLedger::kSchemaVersion; ++v) {
    if (auto s = db.exec(kMigrations[v]); !s) {
      return fail("schema migration to version " + std::to_string(v + 1) + " failed", s.error());
    }
  }
  const std::string set_version =
      "PRAGMA user_version = " + std::to_string(UsageLedger::kSchemaVersion);
  if (auto s = db.exec(set_version.c_str()); !s) return fail("cannot set the schema version", s.error());
  if (auto s = db.exec("COMMIT"); !s) return fail("cannot commit the schema migration", s.error());
  return Status::ok();
}

Spend& operator+=(Spend& a, const Spend& b) {
  a.usd += b.usd;
  a.tokens += b.tokens;
  return a;
}

// Keeps the newest kept buckets; raises `floor` past what it drops.
void trim(std::map<int64_t, Spend>& buckets, int64_t& floor, size_t kept) {
  while (buckets.size() > kept) {
    floor = buckets.begin()->first + 1;
    buckets.erase(buckets.begin());
  }
}

}  // namespace

Result<std::unique_ptr<UsageLedger>> UsageLedger::open(const std::string& path) {
  return open(path, system_clock::now());
}

Result<std::unique_ptr<UsageLedger>> UsageLedger::open(const std::string& path,
                                                       system_clock::time_point now) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) return ledger_error(path, "cannot create directory " + parent.string(), ec.message());
  }

  auto writer = connect(path);
  if (!writer) return writer.error();
  if (auto s = migrate(*writer, path); !s) return s.error();
  auto insert = writer->prepare(kInsertSql);
  if (!insert) return ledger_error(path, "cannot prepare the insert", insert.error().message);
  auto reader = connect(path);
  if (!reader) return reader.error();
  if (auto s = reader->exec("PRAGMA query_only=1"); !s) {
    return ledger_error(path, "cannot set query_only", s.error().message);
  }

  // Memory holds whole days from yesterday (a budget check racing a record()
  // across midnight still finds its day) and the whole current month.
  const int64_t today = day_of_ms(to_ms(now));
  const int64_t day_floor = today - 1;
  const int64_t month_floor = month_of_day(today);
  std::unique_ptr<UsageLedger> ledger(new UsageLedger(path, std::move(*writer),
                                                      std::move(*insert), std::move(*reader),
                                                      day_floor, month_floor));
  const int64_t load_from = std::min(day_floor, first_day_of_month(month_floor));
  if (auto s = ledger->load(load_from * kMsPerDay); !s) return s.error();
  return ledger;
}

UsageLedger::UsageLedger(std::string path, sqlite::Db writer, sqlite::Statement insert,
                         sqlite::Db reader, int64_t day_floor, int64_t month_floor)
    : path_(std::move(path)),
      writer_(std::move(writer)),
      insert_(std::move(insert)),
      reader_(std::move(reader)),
      initial_day_floor_(day_floor),
      initial_month_floor_(month_floor),
      rows_(std::make_unique<BatchWriter<LedgerEntry>>(
          kGather, kBatchLimit, [this](std::vector<LedgerEntry>& rows) { return write_rows(rows); })) {}

UsageLedger::~UsageLedger() = default;

Status UsageLedger::load(int64_t since_ms) {
  std::lock_guard read_lock(read_mu_);
  auto stmt = reader_.prepare(kLoadSql);
  if (!stmt) return ledger_error(path_, "cannot load totals", stmt.error().message);
  stmt->bind(1, since_ms);
  const int64_t since_day = day_of_ms(since_ms);
  std::lock_guard memory_lock(memory_mu_);
  while (true) {
    auto row = stmt->step();
    if (!row) return ledger_error(path_, "cannot load totals", row.error().message);
    if (!*row) break;
    const Spend spend{stmt->column_double(3), stmt->column_int(2)};
    add_locked(stmt->column_text(0), since_day + stmt->column_int(1), spend);
  }
  return Status::ok();
}

void UsageLedger::add_locked(const std::string& tenant, int64_t day, const Spend& spend) {
  auto [it, inserted] = tenants_.try_emplace(tenant);
  TenantBuckets& b = it->second;
  if (inserted) {
    b.day_floor = initial_day_floor_;
    b.month_floor = initial_month_floor_;
  }
  if (day >= b.day_floor) {
    b.days[day] += spend;
    trim(b.days, b.day_floor, kBucketsKept);
  }
  const int64_t month = month_of_day(day);
  if (month >= b.month_floor) {
    b.months[month] += spend;
    trim(b.months, b.month_floor, kBucketsKept);
  }
}

Status UsageLedger::record(const LedgerEntry& entry) {
  if (!std::isfinite(entry.cost_usd) || entry.cost_usd < 0 || entry.prompt_tokens < 0 ||
      entry.cached_prompt_tokens < 0 || entry.completion_tokens < 0) {
    return ledger_error(path_, "refusing an entry with a negative or non-finite amount",
                        "request " + entry.request_id);
  }
  const int64_t at_ms = to_ms(entry.at);
  {
    // Memory first: the budget check sees the spend even if the row is lost.
    std::lock_guard lock(memory_mu_);
    add_locked(entry.tenant, day_of_ms(at_ms),
               Spend{entry.cost_usd, entry.prompt_tokens + entry.completion_tokens});
  }

  rows_->push(entry);
  return Status::ok();
}

Status UsageLedger::flush() {
  if (rows_->flush()) return Status::ok();
  std::lock_guard lock(write_error_mu_);
  return ledger_error(path_, "cannot write usage rows", write_error_);
}

Status UsageLedger::insert_all(const std::vector<LedgerEntry>& rows) {
  if (auto s = writer_.exec("BEGIN IMMEDIATE"); !s) return s.error();
  for (const LedgerEntry& row : rows) {
    insert_.bind(1, row.request_id);
    insert_.bind(2, row.tenant);
    insert_.bind(3, row.backend);
    insert_.bind(4, row.model);
    insert_.bind(5, to_ms(row.at));
    insert_.bind(6, row.prompt_tokens);
    insert_.bind(7, row.cached_prompt_tokens);
    insert_.bind(8, row.completion_tokens);
    insert_.bind(9, row.cost_usd);
    insert_.bind(10, row.outcome);
    auto done = insert_.step();
    insert_.reset();
    if (!done) {
      writer_.exec("ROLLBACK");
      return done.error();
    }
  }
  if (auto s = writer_.exec("COMMIT"); !s) {
    writer_.exec("ROLLBACK");
    return s.error();
  }
  return Status::ok();
}

bool UsageLedger::write_rows(const std::vector<LedgerEntry>& rows) {
  const Status written = insert_all(rows);
  if (!written) {
    if (!write_failing_) {
      log::warn("ledger.write_failed").kv("path", path_).kv("rows", static_cast<int64_t>(rows.size()))
          .kv("first_request_id", rows.front().request_id).kv("error", written.error().message);
    }
    write_failing_ = true;
    std::lock_guard lock(write_error_mu_);
    write_error_ = "a batch of " + std::to_string(rows.size()) + " rows (the first for request " +
                   rows.front().request_id + ") failed: " + written.error().message;
    return false;
  }
  if (write_failing_) log::info("ledger.write_recovered").kv("path", path_);
  write_failing_ = false;
  return true;
}

TenantSpend UsageLedger::spend(const std::string& tenant, system_clock::time_point now) const {
  std::lock_guard lock(memory_mu_);
  return spend_locked(tenant, now);
}

TenantSpend UsageLedger::spend_locked(const std::string& tenant, system_clock::time_point now) const {
  const int64_t day = day_of_ms(to_ms(now));
  const int64_t month = month_of_day(day);
  TenantSpend out;
  if (const auto it = tenants_.find(tenant); it != tenants_.end()) {
    if (const auto d = it->second.days.find(day); d != it->second.days.end()) out.today = d->second;
    if (const auto m = it->second.months.find(month); m != it->second.months.end()) out.this_month = m->second;
  }
  if (const auto held = in_flight_.find(tenant); held != in_flight_.end()) {
    out.today += held->second;
    out.this_month += held->second;
  }
  return out;
}

UsageLedger::Reservation UsageLedger::reserve(const std::string& tenant, system_clock::time_point now,
                                              const std::function<Spend(const TenantSpend&)>& decide) {
  std::lock_guard lock(memory_mu_);
  const Spend amount = decide(spend_locked(tenant, now));
  if (amount.usd <= 0 && amount.tokens <= 0) return {};
  in_flight_[tenant] += amount;
  return Reservation(this, tenant, amount);
}

UsageLedger::Reservation& UsageLedger::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    release();
    ledger_ = std::exchange(other.ledger_, nullptr);
    tenant_ = std::move(other.tenant_);
    amount_ = other.amount_;
  }
  return *this;
}

void UsageLedger::Reservation::release() {
  if (!ledger_) return;
  std::lock_guard lock(ledger_->memory_mu_);
  auto it = ledger_->in_flight_.find(tenant_);
  if (it != ledger_->in_flight_.end()) {
    it->second.usd -= amount_.usd;
    it->second.tokens -= amount_.tokens;
    if (it->second.tokens <= 0 && it->second.usd <= 1e-12) ledger_->in_flight_.erase(it);
  }
  ledger_ = nullptr;
}

std::vector<UsageLedger::Row> UsageLedger::totals_since(system_clock::time_point since) const {
  rows_->wait();  // the rows recorded so far count; a failed batch was logged, and flush() reports it
  std::vector<Row> rows;
  std::lock_guard lock(read_mu_);
  auto stmt = reader_.prepare(kTotalsSql);
  if (!stmt) {
    log::error("ledger.read_failed").kv("path", path_).kv("error", stmt.error().message);
    return rows;
  }
  stmt->bind(1, to_ms(since));
  while (true) {
    auto row = stmt->step();
    if (!row) {
      log::error("ledger.read_failed").kv("path", path_).kv("error", row.error().message);
      return {};
    }
    if (!*row) break;
    rows.push_back(Row{stmt->column_text(0), stmt->column_text(1), stmt->column_int(2),
                       stmt->column_int(3), stmt->column_int(4), stmt->column_int(5),
                       stmt->column_double(6)});
  }
  return rows;
}

}  // namespace dsgw::router
