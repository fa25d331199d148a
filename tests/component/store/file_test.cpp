// Start-up against damaged, foreign, old and new store files: refusal leaves the file exactly as
// it was; old schemas are migrated forward.

#include <sqlite3.h>

#include <limits>
#include <optional>
#include <random>

#include "component/store/store_fixture.hpp"
#include "store/message_codec.hpp"

namespace edgehub::store::testing {
namespace {

namespace fs = std::filesystem;

class StoreFileTest : public StoreFixture {
 protected:
  /// Opening must fail with `expected`, say what to do, and leave the file byte-identical.
  void expect_refused(Errc expected) {
    const auto before = read_file(options_.path);
    std::string diagnostic;
    auto store = open_sqlite_store(options_, registry_, clock_, ioc_.get_executor(), diagnostic);
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error(), expected) << diagnostic;
    EXPECT_NE(diagnostic.find(options_.path.string()), std::string::npos) << diagnostic;
    EXPECT_NE(diagnostic.find("move"), std::string::npos) << diagnostic;
    EXPECT_EQ(read_file(options_.path), before);
    EXPECT_FALSE(fs::exists(options_.path.string() + "-wal"));
    std::string verify_diagnostic;
    EXPECT_FALSE(verify_store_file(options_.path, verify_diagnostic));
    EXPECT_EQ(read_file(options_.path), before);
  }

  /// A closed store holding `n` messages.
  void make_store(int n) {
    auto store = open_store();
    ASSERT_TRUE(store);
    AppendBatch batch;
    for (int i = 0; i < n; ++i) {
      batch.push_back(to_queue(make_message(std::string(300, 'q') + std::to_string(i)), "iothub"));
    }
    ASSERT_TRUE(append(*store, std::move(batch)));
  }

  void raw_exec(const char* sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(options_.path.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }

  std::int64_t raw_scalar(const char* sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(options_.path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
              SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK);
    std::int64_t v = -1;
    if (sqlite3_step(stmt) == SQLITE_ROW) v = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return v;
  }
};

TEST_F(StoreFileTest, CreatesANewStoreAtomically) {
  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_TRUE(fs::exists(options_.path));
  EXPECT_FALSE(fs::exists(options_.path.string() + ".creating"));
  store.reset();
  EXPECT_EQ(raw_scalar("PRAGMA auto_vacuum"), 2);
  EXPECT_EQ(raw_scalar("PRAGMA page_size"), 4096);
  EXPECT_EQ(raw_scalar("SELECT version FROM schema_version"), kSchemaVersion);
}

TEST_F(StoreFileTest, TheSequenceHighWaterMarkIsSavedAheadInsteadOfByEveryCommit) {
  const QueueId up{"iothub", kDefaultPriority};
  SeqNo saved = 0;
  SeqNo last = 0;
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    auto first = append_one(*store, to_queue(make_message("first"), "iothub"));
    ASSERT_TRUE(first);
    saved = static_cast<SeqNo>(raw_scalar("SELECT value FROM meta WHERE key = 'next_seq'"));
    EXPECT_GT(saved, (*first)[0][0]);
    for (int i = 0; i < 20; ++i) {  // 20 transactions, one append each
      auto r = append_one(*store, to_queue(make_message(std::to_string(i)), "iothub"));
      ASSERT_TRUE(r);
      last = (*r)[0][0];
    }
    EXPECT_LT(last, saved);
    EXPECT_EQ(static_cast<SeqNo>(raw_scalar("SELECT value FROM meta WHERE key = 'next_seq'")),
              saved);
    EXPECT_EQ(ack(*store, up, last), 21u);  // the queue is empty: only the mark remembers
  }
  auto store = open_store();
  ASSERT_TRUE(store);
  auto r = append_one(*store, to_queue(make_message("after"), "iothub"));
  ASSERT_TRUE(r);
  EXPECT_GE((*r)[0][0], saved);
  EXPECT_EQ(ack(*store, up, last), 0u);  // a checkpoint from before the restart removes nothing
  EXPECT_EQ(peek(*store, up).size(), 1u);
}

TEST_F(StoreFileTest, GarbageIsRefused) {
  std::vector<char> garbage(16384);
  std::mt19937 rng(7);
  for (auto& c : garbage)
    c = static_cast<char>(rng());
  write_file(options_.path, garbage);
  expect_refused(Errc::corrupt);
}

TEST_F(StoreFileTest, GarbageAfterAValidHeaderIsRefused) {
  make_store(10);
  auto bytes = read_file(options_.path);
  for (std::size_t i = 100; i < bytes.size(); ++i)
    bytes[i] = static_cast<char>(i * 31);
  write_file(options_.path, bytes);
  expect_refused(Errc::corrupt);
}

TEST_F(StoreFileTest, EmptyAndTinyFilesAreRefused) {
  write_file(options_.path, {});
  expect_refused(Errc::corrupt);
  write_file(options_.path, std::vector<char>(50, 'S'));
  expect_refused(Errc::corrupt);
}

TEST_F(StoreFileTest, TruncatedFilesAreRefused) {
  make_store(400);
  const auto full = read_file(options_.path);
  ASSERT_GT(full.size(), 16u * 4096);
  // Cut on a page boundary (the header's page count catches it) and mid-page.
  for (std::size_t cut :
       {full.size() / 2 / 4096 * 4096, full.size() / 2 + 123, std::size_t{4096}}) {
    write_file(options_.path,
               std::vector<char>(full.begin(), full.begin() + static_cast<long>(cut)));
    expect_refused(Errc::corrupt);
  }
}

TEST_F(StoreFileTest, DamagedPageIsFoundByQuickCheck) {
  make_store(400);
  auto bytes = read_file(options_.path);
  // Page 2 onwards hold the schema's b-trees; wreck one in place without changing the size.
  for (std::size_t i = 4096; i < 2 * 4096; ++i)
    bytes[i] = static_cast<char>(0xA5);
  write_file(options_.path, bytes);
  expect_refused(Errc::corrupt);
}

TEST_F(StoreFileTest, ForeignSqliteDatabaseIsRefused) {
  raw_exec("CREATE TABLE something_else (x INTEGER); INSERT INTO something_else VALUES (1);");
  expect_refused(Errc::corrupt);
}

TEST_F(StoreFileTest, NewerSchemaIsRefusedAndLeftAlone) {
  make_store(1);
  raw_exec("UPDATE schema_version SET version = 99");
  expect_refused(Errc::schema_too_new);
}

TEST_F(StoreFileTest, WalWithoutDatabaseIsRefused) {
  write_file(fs::path(options_.path.string() + "-wal"), std::vector<char>(100, 'w'));
  std::string diagnostic;
  auto store = open_sqlite_store(options_, registry_, clock_, ioc_.get_executor(), diagnostic);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error(), Errc::corrupt);
  EXPECT_FALSE(fs::exists(options_.path));
}

TEST_F(StoreFileTest, MissingDirectoryIsAClearError) {
  options_.path = dir_.path() / "no" / "such" / "dir" / kDatabaseFileName;
  std::string diagnostic;
  auto store = open_sqlite_store(options_, registry_, clock_, ioc_.get_executor(), diagnostic);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error(), Errc::unreadable);
  EXPECT_NE(diagnostic.find("directory"), std::string::npos) << diagnostic;
}

TEST_F(StoreFileTest, MigratesVersion1Forward) {
  // Version 1 as it was first shipped: no expiry index, no drop labels on bodies, no state or
  // meta tables, and no incremental auto-vacuum.
  raw_exec(R"sql(
    CREATE TABLE schema_version (version INTEGER NOT NULL);
    INSERT INTO schema_version (version) VALUES (1);
    CREATE TABLE bodies (id INTEGER PRIMARY KEY, refs INTEGER NOT NULL, data BLOB NOT NULL);
    CREATE TABLE queues (id INTEGER PRIMARY KEY, endpoint TEXT NOT NULL, priority INTEGER NOT NULL,
                         UNIQUE (endpoint, priority));
    CREATE TABLE entries (queue INTEGER NOT NULL, seq INTEGER NOT NULL, body INTEGER NOT NULL,
                          expires INTEGER NOT NULL, PRIMARY KEY (queue, seq)) WITHOUT ROWID;
    CREATE TRIGGER entries_release AFTER DELETE ON entries BEGIN
      DELETE FROM bodies WHERE id = OLD.body AND refs <= 1;
      UPDATE bodies SET refs = refs - 1 WHERE id = OLD.body;
    END;
    INSERT INTO queues (id, endpoint, priority) VALUES (1, 'iothub', 2000000000), (2, 'gw/m/in', 0);
  )sql");
  auto m = make_message("from v1", "dev9", "m");
  m.sys_prop(core::SystemProperty::output_name) = "o";
  const auto blob = encode_message(m);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(options_.path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO bodies (id, refs, data) VALUES (1, 2, ?1)", -1,
                               &stmt, nullptr),
            SQLITE_OK);
  sqlite3_bind_blob(stmt, 1, blob.data(), static_cast<int>(blob.size()), SQLITE_STATIC);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_DONE);
  sqlite3_finalize(stmt);
  const auto expires = std::chrono::duration_cast<std::chrono::milliseconds>(
                           (clock_.now() + std::chrono::seconds(10)).time_since_epoch())
                           .count();
  const std::string entries = "INSERT INTO entries VALUES (1, 7, 1, " + std::to_string(expires) +
                              "), (2, 8, 1, 9223372036854775807)";
  ASSERT_EQ(sqlite3_exec(db, entries.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  ASSERT_EQ(raw_scalar("PRAGMA auto_vacuum"), 0);

  {
    auto store = open_store();
    ASSERT_TRUE(store);
    const auto up = peek(*store, QueueId{"iothub", kDefaultPriority});
    ASSERT_EQ(up.size(), 1u);
    EXPECT_EQ(up[0].seq, 7u);
    EXPECT_EQ(up[0].message.body_text(), "from v1");
    EXPECT_EQ(gauge("gw/m/in", 0), 1.0);
    // New sequence numbers continue after the migrated ones.
    auto r = append_one(*store, to_queue(make_message("new"), "iothub"));
    ASSERT_TRUE(r);
    EXPECT_GT((*r)[0][0], 8u);
    // The sweep labels drops from the backfilled origin and output columns.
    clock_.advance(std::chrono::seconds(11));
    EXPECT_EQ(maintain(*store).expired_removed, 1u);
    EXPECT_EQ(dropped("ttl_expiry", "dev9/m", "o"), 1u);
    // State works on a migrated file.
    auto put = wait_for<void>(ioc_, [&](auto h) {
      store->async_put_state("ns", "k", std::vector<std::byte>{std::byte{1}}, std::move(h));
    });
    EXPECT_TRUE(put);
  }
  EXPECT_EQ(raw_scalar("SELECT version FROM schema_version"), kSchemaVersion);
  EXPECT_EQ(raw_scalar("PRAGMA auto_vacuum"), 2);
  EXPECT_EQ(raw_scalar("SELECT refs FROM bodies WHERE id = 1"), 1);
  // Reopening a migrated store is a no-op migration.
  auto again = open_store();
  ASSERT_TRUE(again);
  EXPECT_EQ(peek(*again, QueueId{"gw/m/in", 0}).size(), 1u);
}

// Version 2 exactly as it shipped: every message a row in `bodies`, one row per queue in the
// shared `entries` table, and the trigger that reference-counts bodies.
constexpr const char* kSchemaV2 = R"sql(
  CREATE TABLE schema_version (version INTEGER NOT NULL);
  INSERT INTO schema_version (version) VALUES (2);
  CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE bodies (id INTEGER PRIMARY KEY, refs INTEGER NOT NULL,
                       origin TEXT NOT NULL DEFAULT '', output TEXT NOT NULL DEFAULT '',
                       data BLOB NOT NULL);
  CREATE TABLE queues (id INTEGER PRIMARY KEY, endpoint TEXT NOT NULL, priority INTEGER NOT NULL,
                       UNIQUE (endpoint, priority));
  CREATE TABLE entries (queue INTEGER NOT NULL, seq INTEGER NOT NULL, body INTEGER NOT NULL,
                        expires INTEGER NOT NULL, PRIMARY KEY (queue, seq)) WITHOUT ROWID;
  CREATE INDEX entries_by_expiry ON entries (expires);
  CREATE TRIGGER entries_release AFTER DELETE ON entries BEGIN
    DELETE FROM bodies WHERE id = OLD.body AND refs <= 1;
    UPDATE bodies SET refs = refs - 1 WHERE id = OLD.body;
  END;
  CREATE TABLE state (ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
                      PRIMARY KEY (ns, key)) WITHOUT ROWID;
)sql";

/// Writes a version 2 store the way the v2 engine did: `messages` appended in order, each to
/// the queues named by its index (fan-out shares one body), sequence numbers from 1 up.
class V2Writer {
 public:
  V2Writer(const fs::path& path, FakeClock& clock) : clock_(clock) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    exec("PRAGMA page_size = 4096; PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL;");
    exec(kSchemaV2);
    exec("BEGIN");
  }
  ~V2Writer() {
    exec("COMMIT");
    sqlite3_close(db_);  // the last connection checkpoints and removes the WAL
  }

  std::int64_t queue(const std::string& endpoint, std::uint32_t priority) {
    const auto sql = "INSERT INTO queues (endpoint, priority) VALUES ('" + endpoint + "', " +
                     std::to_string(priority) + ")";
    exec(sql.c_str());
    return sqlite3_last_insert_rowid(db_);
  }

  /// One message to `queues` with the given time to live (none: never expires); the sequence
  /// numbers it got, one per queue.
  std::vector<SeqNo> append(const core::Message& m, const std::vector<std::int64_t>& queues,
                            std::optional<std::chrono::seconds> ttl = std::nullopt) {
    const auto blob = encode_message(m);
    const auto& output = m.sys_prop(core::SystemProperty::output_name);
    sqlite3_stmt* body = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_,
                                 "INSERT INTO bodies (refs, origin, output, data) VALUES (?1, ?2, "
                                 "?3, ?4)",
                                 -1, &body, nullptr),
              SQLITE_OK);
    const auto origin = m.origin.to_string();
    const std::string out = output ? *output : "";
    sqlite3_bind_int64(body, 1, static_cast<std::int64_t>(queues.size()));
    sqlite3_bind_text(body, 2, origin.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(body, 3, out.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(body, 4, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(body), SQLITE_DONE);
    sqlite3_finalize(body);
    const auto body_id = sqlite3_last_insert_rowid(db_);
    const auto expires = ttl ? std::chrono::duration_cast<std::chrono::milliseconds>(
                                   (clock_.now() + *ttl).time_since_epoch())
                                   .count()
                             : std::numeric_limits<std::int64_t>::max();
    std::vector<SeqNo> seqs;
    for (const auto q : queues) {
      const auto seq = next_seq_++;
      const auto sql = "INSERT INTO entries (queue, seq, body, expires) VALUES (" +
                       std::to_string(q) + ", " + std::to_string(seq) + ", " +
                       std::to_string(body_id) + ", " + std::to_string(expires) + ")";
      exec(sql.c_str());
      seqs.push_back(seq);
    }
    return seqs;
  }

  /// An ack as v2 did it: the trigger releases the body with its last entry.
  void ack(std::int64_t queue, SeqNo up_to) {
    const auto sql = "DELETE FROM entries WHERE queue = " + std::to_string(queue) +
                     " AND seq <= " + std::to_string(up_to);
    exec(sql.c_str());
  }

  void exec(const char* sql) {
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql, nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
  }

 private:
  FakeClock& clock_;
  sqlite3* db_ = nullptr;
  SeqNo next_seq_ = 1;
};

TEST_F(StoreFileTest, MigratesVersion2ToInlineBodiesKeepingEveryMessageInOrder) {
  const QueueId up{"iothub", kDefaultPriority};
  const QueueId urgent{"iothub", 0};
  const QueueId module{"gw/filter/in1", kDefaultPriority};
  std::vector<std::string> up_bodies, urgent_bodies, module_bodies;
  std::vector<SeqNo> up_seqs, module_seqs;
  SeqNo shared_module_seq = 0;
  std::uint64_t urgent_from_dev1_mod = 0;
  {
    V2Writer v2(options_.path, clock_);
    const auto q_up = v2.queue(up.endpoint, up.priority);
    const auto q_urgent = v2.queue(urgent.endpoint, urgent.priority);
    const auto q_module = v2.queue(module.endpoint, module.priority);
    for (int i = 0; i < 300; ++i) {
      auto m = make_message("m" + std::to_string(i) + std::string(static_cast<std::size_t>(i), 'x'),
                            "dev" + std::to_string(i % 3), i % 2 ? "mod" : "");
      m.set_app("i", std::to_string(i));
      if (i % 2) m.sys_prop(core::SystemProperty::output_name) = "out";
      const auto body = std::string(m.body_text());
      if (i % 10 == 0) {
        // Fan-out to two queues: one shared body in v2, and it must stay shared in v3.
        const auto seqs = v2.append(m, {q_up, q_module});
        up_bodies.push_back(body);
        up_seqs.push_back(seqs[0]);
        module_bodies.push_back(body);
        module_seqs.push_back(seqs[1]);
        if (i == 290) shared_module_seq = seqs[1];
      } else if (i % 7 == 0) {
        v2.append(m, {q_urgent}, std::chrono::seconds(60));
        urgent_bodies.push_back(body);
        urgent_from_dev1_mod += m.origin.to_string() == "dev1/mod" ? 1 : 0;
      } else {
        up_seqs.push_back(v2.append(m, {q_up})[0]);
        up_bodies.push_back(body);
      }
    }
    // The first ten upstream entries were delivered before the upgrade: their bodies are gone,
    // except where another queue still holds them (message 0 in the module queue).
    v2.ack(q_up, up_seqs[9]);
    up_bodies.erase(up_bodies.begin(), up_bodies.begin() + 10);
    up_seqs.erase(up_seqs.begin(), up_seqs.begin() + 10);
    v2.exec("INSERT INTO meta (key, value) VALUES ('next_seq', 5000)");
    v2.exec("INSERT INTO state (ns, key, value) VALUES ('twin', 'dev1', x'7b7d')");
  }
  ASSERT_EQ(raw_scalar("SELECT version FROM schema_version"), 2);
  const auto v2_bodies = raw_scalar("SELECT count(*) FROM bodies");

  auto store = open_store();
  ASSERT_TRUE(store);
  auto bodies_of = [](const std::vector<StoredEntry>& entries) {
    std::vector<std::string> out;
    for (const auto& e : entries)
      out.emplace_back(e.message.body_text());
    return out;
  };
  const auto up_entries = peek(*store, up);
  EXPECT_EQ(bodies_of(up_entries), up_bodies);
  ASSERT_EQ(up_entries.size(), up_seqs.size());
  for (std::size_t i = 0; i < up_seqs.size(); ++i)
    EXPECT_EQ(up_entries[i].seq, up_seqs[i]);
  EXPECT_EQ(bodies_of(peek(*store, urgent)), urgent_bodies);
  const auto module_entries = peek(*store, module);
  EXPECT_EQ(bodies_of(module_entries), module_bodies);
  ASSERT_FALSE(module_entries.empty());
  EXPECT_EQ(module_entries.back().seq, shared_module_seq);
  // Properties, origin and expiry survive the move.
  const auto urgent_entries = peek(*store, urgent);
  ASSERT_FALSE(urgent_entries.empty());
  EXPECT_EQ(urgent_entries[0].message.origin.to_string(), "dev1/mod");
  ASSERT_NE(urgent_entries[0].message.find_app("i"), nullptr);
  EXPECT_EQ(urgent_entries[0].message.find_app("i")->value, "7");
  EXPECT_LT(urgent_entries[0].expires_at, core::SystemTime::max());
  EXPECT_EQ(gauge("iothub", kDefaultPriority), static_cast<double>(up_bodies.size()));
  EXPECT_EQ(gauge("gw/filter/in1", kDefaultPriority), static_cast<double>(module_bodies.size()));
  // One body per message still held, whether inline or shared, as in v2.
  EXPECT_EQ(bodies(), static_cast<std::uint64_t>(v2_bodies));
  // New sequence numbers continue after the saved high-water mark.
  auto r = append_one(*store, to_queue(make_message("after"), "iothub"));
  ASSERT_TRUE(r);
  EXPECT_GE((*r)[0][0], 5000u);
  auto state = wait_for<std::optional<std::vector<std::byte>>>(
      ioc_, [&](auto h) { store->async_get_state("twin", "dev1", std::move(h)); });
  ASSERT_TRUE(state);
  ASSERT_TRUE(state->has_value());
  EXPECT_EQ((*state)->size(), 2u);
  // TTL sweep and drop labels work on migrated entries.
  clock_.advance(std::chrono::seconds(61));
  EXPECT_EQ(maintain(*store).expired_removed, urgent_bodies.size());
  EXPECT_EQ(dropped("ttl_expiry", "dev1/mod", "out"), urgent_from_dev1_mod);
  EXPECT_GT(urgent_from_dev1_mod, 0u);
  // Shared bodies are released with their last entry: ack the module queue, then upstream.
  EXPECT_EQ(ack(*store, module, module_seqs.back()), module_bodies.size());
  EXPECT_EQ(ack(*store, up, (*r)[0][0]), up_bodies.size() + 1);
  EXPECT_EQ(bodies(), 0u);
  store.reset();
  EXPECT_EQ(raw_scalar("SELECT version FROM schema_version"), kSchemaVersion);
  EXPECT_EQ(raw_scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'entries'"), 0);
  EXPECT_EQ(raw_scalar("SELECT count(*) FROM bodies"), 0);
}

}  // namespace
}  // namespace edgehub::store::testing
