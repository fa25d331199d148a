#pragma once

// A thin RAII layer over the SQLite C API, private to the store module (the only place that
// includes sqlite3.h). No exceptions: every call reports an error code.

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "edgehub/core/result.hpp"
#include "edgehub/store/errors.hpp"

namespace edgehub::store::sqlite {

/// Maps a SQLite result code to the store's error codes.
Errc to_errc(int rc) noexcept;

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Stmt(Stmt&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  explicit operator bool() const noexcept { return stmt_ != nullptr; }

  void bind(int index, std::int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
  void bind(int index, std::string_view text) {
    // A null pointer would bind SQL NULL; an empty string_view may have one.
    sqlite3_bind_text(stmt_, index, text.data() ? text.data() : "", static_cast<int>(text.size()),
                      SQLITE_TRANSIENT);
  }
  /// The text must stay alive until the statement is reset (no copy, unlike bind()).
  void bind_static_text(int index, std::string_view text) {
    sqlite3_bind_text(stmt_, index, text.data() ? text.data() : "", static_cast<int>(text.size()),
                      SQLITE_STATIC);
  }
  void bind_null(int index) { sqlite3_bind_null(stmt_, index); }
  /// The bytes must stay alive until the statement is reset.
  void bind_static(int index, std::span<const std::byte> blob) {
    if (blob.empty()) {
      sqlite3_bind_zeroblob(stmt_, index, 0);  // an empty value, not NULL
    } else {
      sqlite3_bind_blob(stmt_, index, blob.data(), static_cast<int>(blob.size()), SQLITE_STATIC);
    }
  }

  /// SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(stmt_); }
  /// Steps to completion; success when SQLITE_DONE.
  core::Result<void> run();
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string_view text(int col) const;
  std::span<const std::byte> blob(int col) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class Db {
 public:
  Db() = default;
  Db(Db&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  /// flags: SQLITE_OPEN_READONLY or SQLITE_OPEN_READWRITE (| SQLITE_OPEN_CREATE).
  /// On failure `message` holds SQLite's explanation.
  static core::Result<Db> open(const std::filesystem::path& path, int flags, std::string& message);

  sqlite3* handle() const noexcept { return db_; }
  core::Result<void> exec(const char* sql);
  core::Result<Stmt> prepare(std::string_view sql);
  /// Runs a query returning one integer (PRAGMA page_count, SELECT count(*) ...).
  core::Result<std::int64_t> scalar(const char* sql);
  /// The same with a statement prepared once; leaves it reset for the next call.
  static core::Result<std::int64_t> scalar(Stmt& stmt);
  std::string last_error() const { return db_ ? sqlite3_errmsg(db_) : "no database"; }
  std::int64_t changes() const { return sqlite3_changes64(db_); }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

}  // namespace edgehub::store::sqlite
