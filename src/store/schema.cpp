#include "store/schema.hpp"

#include "edgehub/store/sqlite_store.hpp"
#include "store/message_codec.hpp"

namespace edgehub::store::schema {
namespace {

// Version 3, the current layout: one table per queue (queue_table_ddl), keyed by sequence number,
// so an append is a row added at the right edge of its queue's b-tree plus one expiry-index
// entry. Bodies shared by several queues (fan-out > 1) live in `bodies`, reference-counted by
// the entries pointing at them.
constexpr const char* kCreateV3 = R"sql(
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (3);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE bodies (
  id   INTEGER PRIMARY KEY,
  refs INTEGER NOT NULL,
  data BLOB NOT NULL);
CREATE TABLE queues (
  id       INTEGER PRIMARY KEY,
  endpoint TEXT NOT NULL,
  priority INTEGER NOT NULL,
  UNIQUE (endpoint, priority));
CREATE TABLE state (
  ns    TEXT NOT NULL,
  key   TEXT NOT NULL,
  value BLOB NOT NULL,
  PRIMARY KEY (ns, key)) WITHOUT ROWID;
)sql";

// v1 -> v2: the TTL sweep needs an expiry index and per-body drop labels (origin, output) so it
// can count drops without decoding bodies; key-value state and the sequence high-water mark
// get their tables.
constexpr const char* kMigrateV1ToV2 = R"sql(
ALTER TABLE bodies ADD COLUMN origin TEXT NOT NULL DEFAULT '';
ALTER TABLE bodies ADD COLUMN output TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS entries_by_expiry ON entries (expires);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (
  ns    TEXT NOT NULL,
  key   TEXT NOT NULL,
  value BLOB NOT NULL,
  PRIMARY KEY (ns, key)) WITHOUT ROWID;
)sql";

core::Result<void> backfill_labels(sqlite::Db& db) {
  auto select = db.prepare("SELECT id, data FROM bodies");
  auto update = db.prepare("UPDATE bodies SET origin = ?1, output = ?2 WHERE id = ?3");
  if (!select) return select.error();
  if (!update) return update.error();
  int rc = 0;
  while ((rc = select->step()) == SQLITE_ROW) {
    auto message = decode_message(select->blob(1));
    if (!message) continue;  // an undecodable body keeps empty labels; peek reports it
    update->bind(1, message->origin.to_string());
    const auto& output = message->sys_prop(core::SystemProperty::output_name);
    update->bind(2, output ? std::string_view(*output) : std::string_view());
    update->bind(3, select->int64(0));
    if (auto r = update->run(); !r) return r;
    update->reset();
  }
  if (rc != SQLITE_DONE) return sqlite::to_errc(rc);
  return {};
}

core::Result<void> step_v1_to_v2(sqlite::Db& db) {
  if (auto r = db.exec(kMigrateV1ToV2); !r) return r;
  if (auto r = backfill_labels(db); !r) return r;
  return db.exec("UPDATE schema_version SET version = 2");
}

// v2 -> v3: the shared `entries` table (every append wrote a body row, an entry row and the
// entry's index rows) becomes one table per queue with the body inline when only one queue
// holds it. Reference counts are recounted from the entries rather than trusted.
constexpr const char* kCountRefsV2 = R"sql(
CREATE TEMP TABLE body_refs (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
INSERT INTO body_refs (id, n) SELECT body, count(*) FROM entries GROUP BY body;
)sql";

constexpr const char* kFinishV2ToV3 = R"sql(
DROP TABLE entries;
DELETE FROM bodies WHERE id NOT IN (SELECT id FROM temp.body_refs WHERE n > 1);
UPDATE bodies SET refs = (SELECT n FROM temp.body_refs r WHERE r.id = bodies.id);
ALTER TABLE bodies DROP COLUMN origin;
ALTER TABLE bodies DROP COLUMN output;
DROP TABLE temp.body_refs;
UPDATE schema_version SET version = 3;
)sql";

core::Result<void> step_v2_to_v3(sqlite::Db& db) {
  if (auto r = db.exec(kCountRefsV2); !r) return r;
  std::vector<std::int64_t> queues;
  {
    auto select = db.prepare("SELECT id FROM queues ORDER BY id");
    if (!select) return select.error();
    int rc = 0;
    while ((rc = select->step()) == SQLITE_ROW)
      queues.push_back(select->int64(0));
    if (rc != SQLITE_DONE) return sqlite::to_errc(rc);
  }
  for (const auto id : queues) {
    if (auto r = create_queue_table(db, id); !r) return r;
    // An entry whose body is missing was unreadable in v2 as well (peek joined bodies); it is
    // not carried over. An entry expiring before an earlier one of its queue is late.
    const auto copy =
        "INSERT INTO " + queue_table(id) +
        " (seq, expires, late, origin, output, body, data) "
        "SELECT e.seq, e.expires, coalesce(e.expires < max(e.expires) OVER (ORDER BY e.seq ROWS "
        "BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), b.origin, b.output, "
        "CASE WHEN r.n > 1 THEN e.body END, CASE WHEN r.n > 1 THEN NULL ELSE b.data END "
        "FROM entries e JOIN bodies b ON b.id = e.body JOIN temp.body_refs r ON "
        "r.id = e.body WHERE e.queue = " +
        std::to_string(id) + " ORDER BY e.seq";
    if (auto r = db.exec(copy.c_str()); !r) return r;
  }
  return db.exec(kFinishV2ToV3);
}

}  // namespace

std::string queue_table(std::int64_t queue_id) {
  return "queue_" + std::to_string(queue_id);
}

core::Result<void> create_queue_table(sqlite::Db& db, std::int64_t queue_id) {
  const auto t = queue_table(queue_id);
  // Small columns first: reading labels or expiry never walks past the body. Only late entries
  // (expiring before an earlier entry of the queue) are indexed by expiry; the others expire in
  // sequence order. The trigger runs only for entries of a shared body, so acks of single-queue
  // messages pay nothing for it.
  const auto ddl = "CREATE TABLE " + t +
                   " (\n"
                   "  seq     INTEGER PRIMARY KEY,\n"
                   "  expires INTEGER NOT NULL,\n"
                   "  late    INTEGER NOT NULL,\n"
                   "  origin  TEXT NOT NULL,\n"
                   "  output  TEXT NOT NULL,\n"
                   "  body    INTEGER,\n"
                   "  data    BLOB);\n"
                   "CREATE INDEX " +
                   t + "_late_by_expiry ON " + t +
                   " (expires) WHERE late;\n"
                   "CREATE TRIGGER " +
                   t + "_release AFTER DELETE ON " + t +
                   " WHEN OLD.body IS NOT NULL BEGIN\n"
                   "  DELETE FROM bodies WHERE id = OLD.body AND refs <= 1;\n"
                   "  UPDATE bodies SET refs = refs - 1 WHERE id = OLD.body;\n"
                   "END;";
  return db.exec(ddl.c_str());
}

core::Result<void> create(sqlite::Db& db) {
  return db.exec(kCreateV3);
}

core::Result<int> read_version(sqlite::Db& db) {
  auto exists = db.scalar(
      "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'");
  if (!exists) return exists.error();
  if (*exists == 0) return 0;
  auto version = db.scalar("SELECT max(version) FROM schema_version");
  if (!version) return version.error();
  return static_cast<int>(*version);
}

core::Result<void> migrate(sqlite::Db& db, int from, std::string& diagnostic) {
  for (int v = from; v < kSchemaVersion; ++v) {
    if (auto r = db.exec("BEGIN IMMEDIATE"); !r) return r;
    core::Result<void> r;
    if (v == 1) r = step_v1_to_v2(db);
    if (v == 2) r = step_v2_to_v3(db);
    if (r) r = db.exec("COMMIT");
    if (!r) {
      diagnostic = "migrating the store from schema version " + std::to_string(v) +
                   " failed: " + db.last_error();
      (void)db.exec("ROLLBACK");
      return r;
    }
  }
  auto auto_vacuum = db.scalar("PRAGMA auto_vacuum");
  if (!auto_vacuum) return auto_vacuum.error();
  if (*auto_vacuum != 2) {
    // Files made without incremental auto-vacuum cannot give pages back; converting needs a
    // full VACUUM once (it rewrites the file, using as much temporary space again).
    if (auto r = db.exec("PRAGMA auto_vacuum = INCREMENTAL"); !r) return r;
    if (auto r = db.exec("VACUUM"); !r) {
      diagnostic = "converting the store to incremental auto-vacuum failed: " + db.last_error();
      return r;
    }
  }
  return {};
}

}  // namespace edgehub::store::schema
