// Start-up against damaged, foreign, old and new store files: refusal leaves the file exactly as
// it was; old schemas are migrated forward.

#include <sqlite3.h>

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
  EXPECT_EQ(raw_scalar("SELECT version FROM schema_version"), 2);
  EXPECT_EQ(raw_scalar("PRAGMA auto_vacuum"), 2);
  EXPECT_EQ(raw_scalar("SELECT refs FROM bodies WHERE id = 1"), 1);
  // Reopening a migrated store is a no-op migration.
  auto again = open_store();
  ASSERT_TRUE(again);
  EXPECT_EQ(peek(*again, QueueId{"gw/m/in", 0}).size(), 1u);
}

}  // namespace
}  // namespace edgehub::store::testing
