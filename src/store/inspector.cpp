// Operator access to a store file (edgehubctl queue ...): read-only while the daemon runs,
// purge only with the daemon stopped.

#include <limits>
#include <string>
#include <utility>
#include <vector>

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
  int version = 0;

  /// Runs `read` inside one read transaction: a consistent snapshot across the queue tables
  /// while the daemon keeps writing.
  template <typename Read>
  auto snapshot(Read read) -> decltype(read()) {
    if (auto r = db.exec("BEGIN"); !r) return r.error();
    auto out = read();
    (void)db.exec("COMMIT");
    return out;
  }

  /// Queue ids and keys, ordered by (endpoint, priority).
  Result<std::vector<std::pair<std::int64_t, QueueId>>> queue_ids() {
    auto stmt = db.prepare("SELECT id, endpoint, priority FROM queues ORDER BY endpoint, priority");
    if (!stmt) return stmt.error();
    std::vector<std::pair<std::int64_t, QueueId>> out;
    int rc = 0;
    while ((rc = stmt->step()) == SQLITE_ROW) {
      out.emplace_back(stmt->int64(0), QueueId{std::string(stmt->text(1)),
                                               static_cast<std::uint32_t>(stmt->int64(2))});
    }
    if (rc != SQLITE_DONE) return sqlite::to_errc(rc);
    return out;
  }
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
  impl->version = *version;
  return Inspector(std::move(impl));
}

Result<std::vector<Inspector::QueueInfo>> Inspector::queues(core::SystemTime now) {
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const auto read_row = [](sqlite::Stmt& stmt, QueueInfo& info) {
    info.length = static_cast<std::uint64_t>(stmt.int64(0));
    info.expired = static_cast<std::uint64_t>(stmt.int64(1));
    info.first_seq = static_cast<SeqNo>(stmt.int64(2));
    info.last_seq = static_cast<SeqNo>(stmt.int64(3));
  };
  return impl_->snapshot([&]() -> Result<std::vector<QueueInfo>> {
    auto ids = impl_->queue_ids();
    if (!ids) return ids.error();
    std::vector<QueueInfo> out;
    for (const auto& [id, key] : *ids) {
      // Version 1 and 2 files (not yet migrated by the daemon) keep every queue in `entries`.
      const std::string from = impl_->version >= 3 ? schema::queue_table(id)
                                                   : "entries WHERE queue = " + std::to_string(id);
      auto stmt = impl_->db.prepare(
          "SELECT count(*), coalesce(sum(expires <= ?1), 0), "
          "coalesce(min(seq), 0), coalesce(max(seq), 0) FROM " +
          from);
      if (!stmt) return stmt.error();
      stmt->bind(1, static_cast<std::int64_t>(now_ms));
      QueueInfo info;
      info.queue = key;
      const int rc = stmt->step();
      if (rc != SQLITE_ROW) return sqlite::to_errc(rc);
      read_row(*stmt, info);
      out.push_back(std::move(info));
    }
    return out;
  });
}

Result<std::vector<StoredEntry>> Inspector::peek(const QueueId& queue, std::size_t max) {
  return impl_->snapshot([&]() -> Result<std::vector<StoredEntry>> {
    auto id = impl_->db.prepare("SELECT id FROM queues WHERE endpoint = ?1 AND priority = ?2");
    if (!id) return id.error();
    id->bind(1, queue.endpoint);
    id->bind(2, static_cast<std::int64_t>(queue.priority));
    const int found = id->step();
    if (found == SQLITE_DONE) return std::vector<StoredEntry>{};
    if (found != SQLITE_ROW) return sqlite::to_errc(found);
    const auto queue_id = id->int64(0);
    const std::string sql =
        impl_->version >= 3
            ? "SELECT seq, expires, coalesce(data, (SELECT b.data FROM bodies b WHERE b.id = "
              "body)) FROM " +
                  schema::queue_table(queue_id) + " ORDER BY seq LIMIT ?1"
            : "SELECT e.seq, e.expires, b.data FROM entries e JOIN bodies b ON b.id = e.body "
              "WHERE e.queue = " +
                  std::to_string(queue_id) + " ORDER BY e.seq LIMIT ?1";
    auto stmt = impl_->db.prepare(sql);
    if (!stmt) return stmt.error();
    stmt->bind(1, static_cast<std::int64_t>(std::min<std::size_t>(max, 1u << 30)));
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
  });
}

Result<Inspector::FileInfo> Inspector::file_info() {
  return impl_->snapshot([&]() -> Result<FileInfo> {
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
    if (*version >= 3) {
      // Bodies held by one queue only are stored inline in their entry.
      auto ids = impl_->queue_ids();
      if (!ids) return ids.error();
      for (const auto& [id, key] : *ids) {
        const auto sql =
            "SELECT count(*) FROM " + schema::queue_table(id) + " WHERE data IS NOT NULL";
        auto inline_bodies = impl_->db.scalar(sql.c_str());
        if (!inline_bodies) return inline_bodies.error();
        info.bodies += static_cast<std::uint64_t>(*inline_bodies);
      }
    }
    return info;
  });
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
  auto id = db->prepare("SELECT id FROM queues WHERE endpoint = ?1 AND priority = ?2");
  if (!id) return id.error();
  id->bind(1, queue.endpoint);
  id->bind(2, static_cast<std::int64_t>(queue.priority));
  auto queue_id = sqlite::Db::scalar(*id);
  if (!queue_id) return queue_id.error();
  if (*queue_id == 0) return std::uint64_t{0};  // no such queue: nothing to purge
  auto stmt = db->prepare("DELETE FROM " + schema::queue_table(*queue_id));
  if (!stmt) return stmt.error();
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
