// Operator access to a store file (edgehubctl queue ...): read-only while the daemon runs,
// purge only with the daemon stopped.

#include <limits>

#include "edgehub/store/sqlite_store.hpp"
#include "store/message_codec.hpp"
#include "store/schema.hpp"
#include "store/sqlite.hpp"
#include "store/store_file.hpp"

namespace edgehub::store {
namespace {

namespace fs = std::filesystem;
using core::Result;

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

core::SystemTime from_ms(std::int64_t ms) {
  if (ms == kNever) return core::SystemTime::max();
  return core::SystemTime(
      std::chrono::duration_cast<core::SystemTime::duration>(std::chrono::milliseconds(ms)));
}

Result<void> require_file(const fs::path& path, std::string& diagnostic) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    diagnostic = "no store at " + path.string() +
                 " (edgehubd creates it on first start; is --state-dir right?)";
    return Errc::unreadable;
  }
  return {};
}

}  // namespace

struct Inspector::Impl {
  sqlite::Db db;
};

Inspector::Inspector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Inspector::Inspector(Inspector&&) noexcept = default;
Inspector& Inspector::operator=(Inspector&&) noexcept = default;
Inspector::~Inspector() = default;

Result<Inspector> Inspector::open(const fs::path& path, std::string& diagnostic) {
  if (auto r = require_file(path, diagnostic); !r) return r.error();
  std::string message;
  auto db = sqlite::Db::open(path, SQLITE_OPEN_READONLY, message);
  if (!db) {
    diagnostic = "cannot open store " + path.string() + " read-only: " + message;
    return db.error();
  }
  auto version = schema::read_version(*db);
  if (!version) {
    diagnostic = "cannot read store " + path.string() + ": " + db->last_error();
    return version.error();
  }
  if (*version < 1 || *version > kSchemaVersion) {
    diagnostic = "store " + path.string() + " has schema version " + std::to_string(*version) +
                 "; this edgehubctl reads version 1 to " + std::to_string(kSchemaVersion);
    return *version < 1 ? Errc::corrupt : Errc::schema_too_new;
  }
  auto impl = std::make_unique<Impl>();
  impl->db = std::move(*db);
  return Inspector(std::move(impl));
}

Result<std::vector<Inspector::QueueInfo>> Inspector::queues(core::SystemTime now) {
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  // One read transaction: a consistent snapshot while the daemon keeps writing.
  auto stmt = impl_->db.prepare(
      "SELECT q.endpoint, q.priority, count(e.seq), coalesce(sum(e.expires <= ?1), 0), "
      "coalesce(min(e.seq), 0), coalesce(max(e.seq), 0) "
      "FROM queues q LEFT JOIN entries e ON e.queue = q.id GROUP BY q.id "
      "ORDER BY q.endpoint, q.priority");
  if (!stmt) return stmt.error();
  stmt->bind(1, static_cast<std::int64_t>(now_ms));
  std::vector<QueueInfo> out;
  int rc = 0;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    QueueInfo info;
    info.queue = QueueId{std::string(stmt->text(0)), static_cast<std::uint32_t>(stmt->int64(1))};
    info.length = static_cast<std::uint64_t>(stmt->int64(2));
    info.expired = static_cast<std::uint64_t>(stmt->int64(3));
    info.first_seq = static_cast<SeqNo>(stmt->int64(4));
    info.last_seq = static_cast<SeqNo>(stmt->int64(5));
    out.push_back(std::move(info));
  }
  if (rc != SQLITE_DONE) return sqlite::to_errc(rc);
  return out;
}

Result<std::vector<StoredEntry>> Inspector::peek(const QueueId& queue, std::size_t max) {
  auto stmt = impl_->db.prepare(
      "SELECT e.seq, e.expires, b.data FROM entries e JOIN bodies b ON b.id = e.body "
      "JOIN queues q ON q.id = e.queue WHERE q.endpoint = ?1 AND q.priority = ?2 "
      "ORDER BY e.seq LIMIT ?3");
  if (!stmt) return stmt.error();
  stmt->bind(1, queue.endpoint);
  stmt->bind(2, static_cast<std::int64_t>(queue.priority));
  stmt->bind(3, static_cast<std::int64_t>(std::min<std::size_t>(max, 1u << 30)));
  std::vector<StoredEntry> out;
  int rc = 0;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    auto message = decode_message(stmt->blob(2));
    if (!message) return message.error();
    out.push_back(StoredEntry{static_cast<SeqNo>(stmt->int64(0)), from_ms(stmt->int64(1)),
                              std::move(*message)});
  }
  if (rc != SQLITE_DONE) return sqlite::to_errc(rc);
  return out;
}

Result<Inspector::FileInfo> Inspector::file_info() {
  FileInfo info;
  auto pages = impl_->db.scalar("PRAGMA page_count");
  auto free_pages = impl_->db.scalar("PRAGMA freelist_count");
  auto page_size = impl_->db.scalar("PRAGMA page_size");
  auto version = schema::read_version(impl_->db);
  auto bodies = impl_->db.scalar("SELECT count(*) FROM bodies");
  if (!bodies) return bodies.error();
  if (!pages) return pages.error();
  if (!free_pages) return free_pages.error();
  if (!page_size) return page_size.error();
  if (!version) return version.error();
  info.file_bytes = static_cast<std::uint64_t>(*pages * *page_size);
  info.free_bytes = static_cast<std::uint64_t>(*free_pages * *page_size);
  info.bodies = static_cast<std::uint64_t>(*bodies);
  info.schema_version = *version;
  return info;
}

Result<std::uint64_t> purge_offline(const fs::path& path, const QueueId& queue,
                                    std::string& diagnostic) {
  if (auto r = require_file(path, diagnostic); !r) return r.error();
  // The daemon's lock: while edgehubd runs it holds the queue lengths, sequence numbers and
  // in-flight deliveries in memory, and deleting under it would desynchronise them.
  auto lock = StoreLock::acquire(path, diagnostic);
  if (!lock) return lock.error();
  if (auto r = check_store_file(path, diagnostic); !r) return r.error();
  std::string message;
  auto db = sqlite::Db::open(path, SQLITE_OPEN_READWRITE, message);
  if (!db) {
    diagnostic = "cannot open store " + path.string() + ": " + message;
    return db.error();
  }
  if (auto r = configure_connection(*db, true, 2048); !r) {
    diagnostic = "cannot configure store: " + db->last_error();
    return r.error();
  }
  auto version = schema::read_version(*db);
  if (!version) return version.error();
  if (*version != kSchemaVersion) {
    diagnostic = "store schema version " + std::to_string(*version) +
                 " is not current; start edgehubd once to migrate it, then stop it and purge";
    return Errc::schema_too_new;
  }
  auto stmt = db->prepare(
      "DELETE FROM entries WHERE queue = (SELECT id FROM queues WHERE endpoint = ?1 AND "
      "priority = ?2)");
  if (!stmt) return stmt.error();
  stmt->bind(1, queue.endpoint);
  stmt->bind(2, static_cast<std::int64_t>(queue.priority));
  if (auto r = db->exec("BEGIN IMMEDIATE"); !r) return r.error();
  auto r = stmt->run();
  const auto removed = static_cast<std::uint64_t>(db->changes());
  if (r) r = db->exec("COMMIT");
  if (!r) {
    diagnostic = "purge failed: " + db->last_error();
    (void)db->exec("ROLLBACK");
    return r.error();
  }
  return removed;
}

}  // namespace edgehub::store
