#pragma once

// Value types of the store API (include/edgehub/store/message_store.hpp).

#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "edgehub/config/gateway_config.hpp"
#include "edgehub/core/message.hpp"

namespace edgehub::store {

/// A position in the store. Sequence numbers grow monotonically across the whole store (never
/// reused, even after the entries holding them are removed), so FIFO order within a queue is
/// ascending sequence order and an ack of a stale sequence number never touches newer entries.
using SeqNo = std::uint64_t;

/// edgeHub's priority for routes that set none: the lowest one.
inline constexpr std::uint32_t kDefaultPriority = 2'000'000'000;

/// One FIFO queue: an endpoint id ("iothub" for $upstream, "{device}/{module}/{input}" for a
/// module input) and a priority (0 is the highest).
struct QueueId {
  std::string endpoint;
  std::uint32_t priority = kDefaultPriority;

  /// "ENDPOINT@PRIORITY", the form edgehubctl prints and accepts.
  std::string to_string() const;
  /// Parses "ENDPOINT" (default priority) or "ENDPOINT@PRIORITY"; false when malformed.
  static bool parse(std::string_view text, QueueId& out);

  friend auto operator<=>(const QueueId&, const QueueId&) = default;
};

/// One queue a message is written to, with the route's time to live.
struct Target {
  QueueId queue;
  std::optional<std::chrono::seconds> ttl;  ///< nullopt: never expires
};

/// A message and every queue it fans out to. The body is stored once, whatever the fan-out.
struct AppendItem {
  core::Message message;
  std::vector<Target> targets;
};
using AppendBatch = std::vector<AppendItem>;

/// For each item of the batch, the sequence number of each of its targets, in the same order.
using AppendResult = std::vector<std::vector<SeqNo>>;

struct StoredEntry {
  SeqNo seq = 0;
  core::SystemTime expires_at = core::SystemTime::max();
  core::Message message;
};

/// How much one read (MessageStore::async_read) returns at most.
struct ReadLimits {
  std::size_t max_entries = 0;
  /// The entries' stored (encoded) bytes at most; 0 = no bound. The first entry is returned
  /// whatever its size, so a read always makes progress.
  std::size_t max_bytes = 0;
};

struct ReadBatch {
  std::vector<StoredEntry> entries;
  /// A limit stopped the read while the queue held more unexpired entries after the last one.
  bool more = false;
};

struct QueueStats {
  QueueId queue;
  std::uint64_t length = 0;  ///< includes expired entries not yet swept
};

struct StoreStats {
  std::vector<QueueStats> queues;       ///< ascending (endpoint, priority)
  std::uint64_t file_bytes = 0;         ///< page_count * page_size of the main database
  std::uint64_t free_bytes = 0;         ///< free pages inside the file, awaiting incremental vacuum
  std::uint64_t quota_bytes = 0;        ///< max_disk_mb in bytes
  std::uint64_t commits = 0;            ///< write transactions committed since open
  std::uint64_t appended = 0;           ///< messages appended since open
  std::uint64_t reads_from_memory = 0;  ///< reads answered by the committed tail since open
  std::uint64_t reads_from_database = 0;  ///< reads answered by SQLite since open
};

struct SweepResult {
  std::uint64_t expired_removed = 0;  ///< entries deleted because their TTL passed
  std::uint64_t pages_vacuumed = 0;   ///< free pages returned to the file system
};

struct StateEntry {
  std::string key;
  std::vector<std::byte> value;
};

/// The name of the database file inside state_dir.
inline constexpr const char* kDatabaseFileName = "store.db";

/// Tuning and policy for SqliteStore. Defaults are sized for small gateways.
struct Options {
  std::filesystem::path path;  ///< the database file
  config::StoreSync sync = config::StoreSync::full;
  std::uint64_t max_disk_bytes = 2048ull * 1024 * 1024;
  config::WhenFull when_full = config::WhenFull::refuse;
  /// Appends waiting for the store thread beyond this fail at once with Errc::busy.
  std::size_t max_pending_appends = 16384;
  /// Bytes of message data waiting for the store thread beyond this fail with Errc::busy.
  std::size_t max_pending_bytes = 64 * 1024 * 1024;
  /// Operations sharing one transaction at most (group commit).
  std::size_t max_ops_per_transaction = 4096;
  /// Under load (the previous transaction ended less than this ago), a transaction that will
  /// fsync (it holds an append or a state write) waits this long after the first operation
  /// arrived, so that what arrives meanwhile shares its fsync: a few large commits instead of
  /// many small ones. An idle store starts at once, so a lone message waits for nothing, and
  /// reads and checkpoints alone (a drain) never wait. 0 disables the wait.
  std::chrono::microseconds commit_window{3000};
  /// A group holding this many operations commits without waiting for the rest of its window:
  /// the fsync is shared widely enough, and senders that keep a bounded number of messages
  /// unacknowledged (a device SDK's in-flight window) are not held to one window per round.
  std::size_t commit_when_queued = 256;
  /// A checkpoint (async_ack) does not get a transaction of its own at once: it joins the next
  /// one the store runs anyway (an append's, a read's), and only when none comes within this
  /// long does it commit alone. A crash can forget the checkpoints of this last moment (their
  /// messages are delivered again). 0 commits every checkpoint at once.
  std::chrono::microseconds checkpoint_delay{5000};
  /// The entries of the last commits kept in memory so that a reader right behind the appends
  /// is answered without a store-thread round trip (docs/store.md), over every queue: at most
  /// this many, and this many encoded bytes. 0 entries disables it.
  std::size_t tail_max_entries = 4096;
  std::size_t tail_max_bytes = 4 * 1024 * 1024;
  /// How often the store thread runs a TTL sweep and vacuum step on its own.
  std::chrono::milliseconds maintenance_interval{1000};
  std::size_t sweep_batch = 1024;             ///< expired entries deleted per sweep step at most
  std::uint32_t vacuum_step_pages = 512;      ///< pages released per incremental vacuum step
  std::uint32_t vacuum_threshold_pages = 64;  ///< free pages tolerated before vacuuming
  std::int64_t cache_kib = 2048;              ///< SQLite page cache per connection
  /// A hard ceiling on the file in pages (PRAGMA max_page_count), beyond the quota check; 0 is
  /// SQLite's default. Reaching it fails the write with Errc::io_error, as a full disk does.
  std::uint32_t max_page_count = 0;

  /// [gateway.store] applied to <state_dir>/store.db.
  static Options from_config(const config::StoreConfig& config,
                             const std::filesystem::path& state_dir);
};

}  // namespace edgehub::store
