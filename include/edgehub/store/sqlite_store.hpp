#pragma once

// The SQLite implementation of store::MessageStore and the read-only inspection used by
// edgehubctl. docs/store.md describes the file, the schema, durability and quota policies.

#include <boost/asio/any_io_executor.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "edgehub/core/clock.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/ops/metrics.hpp"
#include "edgehub/store/message_store.hpp"
#include "edgehub/store/types.hpp"

namespace edgehub::store {

/// The schema version this build writes; older files are migrated forward at open.
inline constexpr int kSchemaVersion = 3;

/// Opens or creates the store at options.path and starts its thread.
///
/// An existing file is checked before anything writes to it (header, size, PRAGMA quick_check
/// on a read-only connection); a corrupt or unreadable file fails with Errc::corrupt or
/// Errc::unreadable, is left byte-for-byte untouched, and `diagnostic` tells the operator what
/// to do. There is no in-memory fallback. A second process opening the same store fails with
/// Errc::locked. New files are created under a temporary name and renamed into place, so a crash
/// during creation never leaves a half-made store behind.
///
/// `registry` and `clock` must outlive the store. Handlers without an associated executor
/// complete on `fallback`. Destroying the store finishes queued operations, then joins its
/// thread; operations submitted afterwards fail with Errc::closed.
core::Result<std::unique_ptr<MessageStore>> open_sqlite_store(const Options& options,
                                                              ops::Registry& registry,
                                                              const core::Clock& clock,
                                                              boost::asio::any_io_executor fallback,
                                                              std::string& diagnostic);

/// Checks a store file without modifying it (header, size, quick_check, schema version).
core::Result<void> verify_store_file(const std::filesystem::path& path, std::string& diagnostic);

/// A read-only view of a store for operators (edgehubctl queue list|peek). It uses its own
/// read-only connection, so it works while the daemon runs and never blocks the daemon's writer
/// (WAL readers and the writer do not wait for each other). Not thread-safe.
class Inspector {
 public:
  static core::Result<Inspector> open(const std::filesystem::path& path, std::string& diagnostic);
  Inspector(Inspector&&) noexcept;
  Inspector& operator=(Inspector&&) noexcept;
  ~Inspector();

  struct QueueInfo {
    QueueId queue;
    std::uint64_t length = 0;
    std::uint64_t expired = 0;  ///< of which already expired at `now`
    SeqNo first_seq = 0;        ///< 0 when empty
    SeqNo last_seq = 0;
  };
  core::Result<std::vector<QueueInfo>> queues(core::SystemTime now);
  /// Oldest first, including expired entries (StoredEntry::expires_at tells).
  core::Result<std::vector<StoredEntry>> peek(const QueueId& queue, std::size_t max);
  struct FileInfo {
    std::uint64_t file_bytes = 0;
    std::uint64_t free_bytes = 0;
    std::uint64_t bodies = 0;  ///< stored message bodies (each shared by its fan-out entries)
    int schema_version = 0;
  };
  core::Result<FileInfo> file_info();

 private:
  struct Impl;
  explicit Inspector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Deletes every entry of one queue with the daemon stopped: it takes the same lock the daemon
/// holds, so it fails with Errc::locked while edgehubd runs. Returns the entries removed.
core::Result<std::uint64_t> purge_offline(const std::filesystem::path& path, const QueueId& queue,
                                          std::string& diagnostic);

}  // namespace edgehub::store
