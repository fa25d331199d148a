#include "store/sqlite.hpp"

namespace edgehub::store::sqlite {

Errc to_errc(int rc) noexcept {
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Errc::corrupt;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_READONLY:
      return Errc::unreadable;
    case SQLITE_IOERR:
    case SQLITE_FULL:
      return Errc::io_error;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Errc::locked;
    default:
      return Errc::sqlite_error;
  }
}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = other.stmt_;
    other.stmt_ = nullptr;
  }
  return *this;
}

Stmt::~Stmt() {
  sqlite3_finalize(stmt_);
}

core::Result<void> Stmt::run() {
  int rc = sqlite3_step(stmt_);
  while (rc == SQLITE_ROW)
    rc = sqlite3_step(stmt_);
  sqlite3_reset(stmt_);
  if (rc != SQLITE_DONE) return to_errc(rc);
  return {};
}

std::string_view Stmt::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  const int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr) return {};
  return {reinterpret_cast<const char*>(p), static_cast<std::size_t>(n)};
}

std::span<const std::byte> Stmt::blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  const int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr) return {};
  return {static_cast<const std::byte*>(p), static_cast<std::size_t>(n)};
}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = other.db_;
    other.db_ = nullptr;
  }
  return *this;
}

Db::~Db() {
  sqlite3_close_v2(db_);
}

core::Result<Db> Db::open(const std::filesystem::path& path, int flags, std::string& message) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    message = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    return to_errc(rc);
  }
  sqlite3_extended_result_codes(raw, 1);
  // A reader racing the daemon's checkpoint may briefly see SQLITE_BUSY; waiting a little is
  // better than failing an operator command or a write.
  sqlite3_busy_timeout(raw, 5000);
  return Db(raw);
}

core::Result<void> Db::exec(const char* sql) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return to_errc(rc);
  return {};
}

core::Result<Stmt> Db::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return to_errc(rc);
  return Stmt(db_, stmt);
}

core::Result<std::int64_t> Db::scalar(const char* sql) {
  auto stmt = prepare(sql);
  if (!stmt) return stmt.error();
  return scalar(*stmt);
}

core::Result<std::int64_t> Db::scalar(Stmt& stmt) {
  const int rc = stmt.step();
  const std::int64_t value = rc == SQLITE_ROW ? stmt.int64(0) : 0;
  stmt.reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return to_errc(rc);
  return value;
}

}  // namespace edgehub::store::sqlite
