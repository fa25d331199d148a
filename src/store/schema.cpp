#include "store/schema.hpp"

#include "edgehub/store/sqlite_store.hpp"
#include "store/message_codec.hpp"

namespace edgehub::store::schema {
namespace {

// Version 2, the current layout. Bodies are stored once and reference-counted by the entries
// that point at them; the trigger keeps the count right for every way an entry disappears
// (ack, purge, TTL sweep, drop_oldest), so no code path can leak or double-free a body.
constexpr const char* kCreateV2 = R"sql(
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (2);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE bodies (
  id     INTEGER PRIMARY KEY,
  refs   INTEGER NOT NULL,
  origin TEXT NOT NULL DEFAULT '',
  output TEXT NOT NULL DEFAULT '',
  data   BLOB NOT NULL);
CREATE TABLE queues (
  id       INTEGER PRIMARY KEY,
  endpoint TEXT NOT NULL,
  priority INTEGER NOT NULL,
  UNIQUE (endpoint, priority));
CREATE TABLE entries (
  queue   INTEGER NOT NULL,
  seq     INTEGER NOT NULL,
  body    INTEGER NOT NULL,
  expires INTEGER NOT NULL,
  PRIMARY KEY (queue, seq)) WITHOUT ROWID;
CREATE INDEX entries_by_expiry ON entries (expires);
CREATE TRIGGER entries_release AFTER DELETE ON entries BEGIN
  DELETE FROM bodies WHERE id = OLD.body AND refs <= 1;
  UPDATE bodies SET refs = refs - 1 WHERE id = OLD.body;
END;
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

}  // namespace

core::Result<void> create(sqlite::Db& db) {
  return db.exec(kCreateV2);
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
