// The usage ledger: an SQLite file in the daemon's state directory with one row
// per finished request (tokens and cost per tenant, never prompt text), so that
// per-tenant budgets (per UTC day and month) hold across restarts.
//
// Threads: any thread may call record(), flush(), spend() and totals_since().
// record() adds to the in-memory totals at once (spend() reads only memory,
// so a budget check sees every recorded request) and queues the row; a
// writer thread of the ledger's own INSERTs the queued rows in one
// transaction per batch, within kGather of the first, so that no request
// waits on the disk. totals_since() reads through a second connection (WAL
// lets it run beside writes) after waiting for the queued rows. Rows still
// queued when the process dies are lost from the file (never from the totals
// of that run): normally kGather's worth, more while another connection holds
// the write lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/batch_writer.h"
#include "common/status.h"
#include "router/sqlite.h"

namespace dsgw::router {

struct LedgerEntry {
  std::string request_id, tenant, backend, model;
  std::chrono::system_clock::time_point at;  // when the request ended
  int64_t prompt_tokens = 0, cached_prompt_tokens = 0, completion_tokens = 0;
  double cost_usd = 0;
  std::string outcome;  // "stop", "length", "error", "cancelled", ...
};

// tokens = prompt + completion (cached prompt tokens are part of the prompt's).
struct Spend {
  double usd = 0;
  int64_t tokens = 0;
};

struct TenantSpend {
  Spend today;       // the UTC calendar day of `now`
  Spend this_month;  // the UTC calendar month of `now`
};

class UsageLedger {
 public:
  static constexpr int kSchemaVersion = 1;
  static constexpr int kBusyTimeoutMs = 5000;
  static constexpr std::chrono::milliseconds kGather{50};
  static constexpr size_t kBatchLimit = 512;

  // Opens or creates the SQLite file (creating parent directories), sets WAL
  // mode and synchronous=NORMAL, creates/migrates the schema (user_version),
  // and loads the day and month totals per tenant into memory. Errors
  // (unwritable directory, not an SQLite file, corrupt, newer schema) name the
  // path and carry SQLite's message.
  static Result<std::unique_ptr<UsageLedger>> open(const std::string& path);
  // As above with the clock injected: the totals loaded are those for the UTC
  // day and month of `now` (and the day before, for clock skew at midnight).
  static Result<std::unique_ptr<UsageLedger>> open(const std::string& path,
                                                   std::chrono::system_clock::time_point now);
  ~UsageLedger();
  UsageLedger(const UsageLedger&) = delete;
  UsageLedger& operator=(const UsageLedger&) = delete;

  // Adds the entry to the in-memory totals of the UTC day and month of
  // `entry.at` and queues its row for the writer thread. Fails only for an
  // entry with a negative or non-finite amount. Thread-safe.
  Status record(const LedgerEntry& entry);

  // Waits until every row recorded before the call is in the file. The Error
  // says why rows were not written, if a batch failed since the last flush();
  // the totals count those rows all the same (the tokens were spent).
  Status flush();

  // Spend held against a tenant's budget while its request runs, from the
  // routing decision until the request has been recorded. Released when
  // destroyed; movable. A default one holds nothing.
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& other) noexcept { *this = std::move(other); }
    Reservation& operator=(Reservation&& other) noexcept;
    ~Reservation() { release(); }
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;

   private:
    friend class UsageLedger;
    Reservation(UsageLedger* ledger, std::string tenant, Spend amount)
        : ledger_(ledger), tenant_(std::move(tenant)), amount_(amount) {}
    void release();

    UsageLedger* ledger_ = nullptr;
    std::string tenant_;
    Spend amount_;
  };

  // Decides and reserves in one step: `decide` is given the tenant's spend
  // (recorded, plus what requests in flight hold) and returns what its own
  // request is expected to spend, which is held until the Reservation goes.
  // So concurrent requests of one tenant cannot all pass a budget that only
  // some of them fit. `decide` runs under the ledger's lock: keep it short.
  Reservation reserve(const std::string& tenant, std::chrono::system_clock::time_point now,
                      const std::function<Spend(const TenantSpend&)>& decide);

  // From memory, no SQL; includes what requests in flight hold (reserve()).
  // Rolls over at UTC day and month boundaries: a day or
  // month with nothing recorded reads as zero. `now` is meant to be the
  // current time: memory keeps whole totals only for recent buckets (from the
  // day before open() and its month on; per tenant, the 3 newest days and
  // months). For an older `now` the figures read zero, never partial; ask
  // totals_since() about the past.
  TenantSpend spend(const std::string& tenant, std::chrono::system_clock::time_point now) const;

  // Totals per tenant and backend for rows with at >= `since`, from SQL once
  // the rows recorded so far are written, ordered by tenant then backend. On an SQL error: logs
  // it, returns {}.
  struct Row {
    std::string tenant, backend;
    int64_t requests;
    int64_t prompt_tokens, cached_prompt_tokens, completion_tokens;
    double cost_usd;
  };
  std::vector<Row> totals_since(std::chrono::system_clock::time_point since) const;

  const std::string& path() const { return path_; }

 private:
  // Per tenant: a few recent buckets, keyed by days since the epoch and by
  // months since year 0. A bucket is complete for every key >= its floor:
  // entries older than the floor count in SQL only, not in memory.
  struct TenantBuckets {
    std::map<int64_t, Spend> days;
    std::map<int64_t, Spend> months;
    int64_t day_floor = 0;
    int64_t month_floor = 0;
  };
  static constexpr size_t kBucketsKept = 3;

  UsageLedger(std::string path, sqlite::Db writer, sqlite::Statement insert, sqlite::Db reader,
              int64_t day_floor, int64_t month_floor);
  Status load(int64_t since_ms);
  void add_locked(const std::string& tenant, int64_t day, const Spend& spend);
  TenantSpend spend_locked(const std::string& tenant, std::chrono::system_clock::time_point now) const;
  // On the writer thread: one transaction for the batch.
  bool write_rows(const std::vector<LedgerEntry>& rows);
  Status insert_all(const std::vector<LedgerEntry>& rows);

  const std::string path_;

  // The writer thread's alone (open() uses them before it starts).
  sqlite::Db writer_;
  sqlite::Statement insert_;
  bool write_failing_ = false;  // logs a failing batch once, not per batch

  std::mutex write_error_mu_;  // guards write_error_
  std::string write_error_;    // why the last failed batch was not written

  mutable std::mutex read_mu_;  // guards reader_
  mutable sqlite::Db reader_;

  mutable std::mutex memory_mu_;  // guards tenants_, in_flight_
  std::unordered_map<std::string, TenantBuckets> tenants_;
  std::unordered_map<std::string, Spend> in_flight_;  // held by Reservations, per tenant
  const int64_t initial_day_floor_;    // first day whose totals open() loaded
  const int64_t initial_month_floor_;  // first month whose totals open() loaded

  // Last: its thread stops, writing what is queued, before the above goes.
  std::unique_ptr<BatchWriter<LedgerEntry>> rows_;
};

}  // namespace dsgw::router
