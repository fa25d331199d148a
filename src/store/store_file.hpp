#pragma once

// What happens to the store file before the engine uses it: the inter-process lock, the
// read-only health check and atomic creation.

#include <filesystem>
#include <string>

#include "edgehub/core/result.hpp"
#include "store/sqlite.hpp"

namespace edgehub::store {

/// An exclusive flock on "<db>.lock", held for the owner's lifetime. The kernel releases it when
/// the process dies, even by SIGKILL, so a crashed daemon never leaves a stale lock.
class StoreLock {
 public:
  static core::Result<StoreLock> acquire(const std::filesystem::path& db, std::string& diagnostic);
  StoreLock(StoreLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  StoreLock& operator=(StoreLock&& other) noexcept;
  StoreLock(const StoreLock&) = delete;
  StoreLock& operator=(const StoreLock&) = delete;
  ~StoreLock();

 private:
  explicit StoreLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

/// Creates a new, empty store at `path` (which must not exist) under a temporary name and
/// renames it into place once complete and synced.
core::Result<void> create_store_file(const std::filesystem::path& path, std::string& diagnostic);

/// The read-only check behind verify_store_file() (declared in sqlite_store.hpp).
core::Result<void> check_store_file(const std::filesystem::path& path, std::string& diagnostic);

/// Applies the connection settings every read-write connection uses.
core::Result<void> configure_connection(sqlite::Db& db, bool sync_full, std::int64_t cache_kib);

}  // namespace edgehub::store
