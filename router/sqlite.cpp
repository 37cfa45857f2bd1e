#include "router/sqlite.h"

#include <sqlite3.h>

#include <utility>

namespace dsgw::router::sqlite {
namespace {

Error sqlite_error(sqlite3* db, int rc) {
  std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return make_error(ErrorCode::kInternal, std::move(message));
}

}  // namespace

Db::~Db() {
  // sqlite3_close_v2 defers the close until every statement is finalised, so
  // member destruction order cannot leak the handle.
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Db::Db(Db&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

Result<Db> Db::open(const std::string& path) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                 nullptr);
  Db db(raw);  // owns the handle even when the open failed
  if (rc != SQLITE_OK) return sqlite_error(raw, rc);
  return db;
}

Status Db::exec(const char* sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return Status::ok();
  std::string text = message != nullptr ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  return make_error(ErrorCode::kInternal, std::move(text));
}

Result<Statement> Db::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return sqlite_error(db_, rc);
  }
  return Statement(stmt, db_);
}

Result<int64_t> Db::query_int(const char* sql) {
  auto stmt = prepare(sql);
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return make_error(ErrorCode::kInternal, std::string("no result from ") + sql);
  return stmt->column_int(0);
}

Result<std::string> Db::query_text(const char* sql) {
  auto stmt = prepare(sql);
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return make_error(ErrorCode::kInternal, std::string("no result from ") + sql);
  return stmt->column_text(0);
}

void Db::set_busy_timeout_ms(int ms) { sqlite3_busy_timeout(db_, ms); }

bool Db::read_only() const { return sqlite3_db_readonly(db_, "main") == 1; }

std::string Db::last_message() const { return db_ != nullptr ? sqlite3_errmsg(db_) : ""; }

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), db_(std::exchange(other.db_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

void Statement::bind(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }

void Statement::bind(int index, double value) { sqlite3_bind_double(stmt_, index, value); }

void Statement::bind(int index, std::string_view value) {
  // A null data pointer would bind SQL NULL; an empty view is an empty string.
  const char* data = value.data() != nullptr ? value.data() : "";
  sqlite3_bind_text64(stmt_, index, data, value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

Result<bool> Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(db_, rc);
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::column_int(int index) const { return sqlite3_column_int64(stmt_, index); }

double Statement::column_double(int index) const { return sqlite3_column_double(stmt_, index); }

std::string Statement::column_text(int index) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
  if (text == nullptr) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, index)));
}

}  // namespace dsgw::router::sqlite
