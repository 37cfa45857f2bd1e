// A tiny RAII layer over the SQLite C API: a connection and a prepared
// statement, each owning its handle; errors come back as values carrying
// SQLite's own message. Not thread-safe: the owner serialises use.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace dsgw::router::sqlite {

class Statement;

class Db {
 public:
  Db() = default;
  ~Db();
  Db(Db&& other) noexcept;
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Opens (and creates if missing) the file read-write. An Error's message is
  // SQLite's; the caller adds the path.
  static Result<Db> open(const std::string& path);

  // Runs one or more statements that return no rows worth reading.
  Status exec(const char* sql);
  Result<Statement> prepare(std::string_view sql);
  // Reads a single integer or text result (PRAGMAs).
  Result<int64_t> query_int(const char* sql);
  Result<std::string> query_text(const char* sql);

  void set_busy_timeout_ms(int ms);
  bool read_only() const;
  std::string last_message() const;
  sqlite3* handle() const { return db_; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

class Statement {
 public:
  Statement() = default;
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in SQLite. Text is copied (SQLITE_TRANSIENT).
  void bind(int index, int64_t value);
  void bind(int index, double value);
  void bind(int index, std::string_view value);

  // Advances: true with a row, false when done, or an Error.
  Result<bool> step();
  // Makes the statement runnable again and clears its bindings.
  void reset();

  // Columns are 0-based.
  int64_t column_int(int index) const;
  double column_double(int index) const;
  std::string column_text(int index) const;

 private:
  friend class Db;
  Statement(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;  // for error messages; not owned
};

}  // namespace dsgw::router::sqlite
