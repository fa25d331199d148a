// Store throughput on this machine's disk (design.md §9: group commit at sync=full >= 50% of
// SQLite's raw batched-insert rate, measured in the same run; drain >= 50k msg/s).
//
// usage: store_bench [--messages N] [--appenders C] [--dir DIR]
//
// The raw ceiling talks to SQLite directly (it measures SQLite, not the store), so this file
// includes sqlite3.h; nothing else outside src/store does.

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "edgehub/core/clock.hpp"
#include "edgehub/ops/metrics.hpp"
#include "edgehub/store/sqlite_store.hpp"

namespace {

using namespace edgehub;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kBodyBytes = 256;

struct Settings {
  int messages = 100000;
  int appenders = 2048;
  fs::path dir = ".";
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void remove_db(const fs::path& db) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", ".lock"})
    fs::remove(db.string() + suffix, ec);
}

bool check(int rc, sqlite3* db, const char* what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return true;
  std::fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
  return false;
}

/// SQLite alone: 256-byte rows, one prepared INSERT, 1000 rows per transaction, WAL,
/// synchronous=FULL. `two_tables` does the store's row work (body + entry + expiry index).
double raw_insert_rate(const fs::path& db_path, int n, bool two_tables) {
  remove_db(db_path);
  sqlite3* db = nullptr;
  if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) return 0;
  const char* setup =
      two_tables
          ? "PRAGMA page_size=4096; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
            "CREATE TABLE bodies (id INTEGER PRIMARY KEY, refs INTEGER NOT NULL, origin TEXT NOT "
            "NULL, output TEXT NOT NULL, data BLOB NOT NULL);"
            "CREATE TABLE entries (queue INTEGER NOT NULL, seq INTEGER NOT NULL, body INTEGER NOT "
            "NULL, expires INTEGER NOT NULL, PRIMARY KEY (queue, seq)) WITHOUT ROWID;"
            "CREATE INDEX entries_by_expiry ON entries (expires);"
          : "PRAGMA page_size=4096; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
            "CREATE TABLE raw (id INTEGER PRIMARY KEY, data BLOB NOT NULL);";
  if (!check(sqlite3_exec(db, setup, nullptr, nullptr, nullptr), db, "setup")) return 0;
  sqlite3_stmt* body = nullptr;
  sqlite3_stmt* entry = nullptr;
  sqlite3_prepare_v2(db,
                     two_tables ? "INSERT INTO bodies (refs, origin, output, data) VALUES (1, "
                                  "'dev1', '', ?1)"
                                : "INSERT INTO raw (data) VALUES (?1)",
                     -1, &body, nullptr);
  if (two_tables) {
    sqlite3_prepare_v2(db, "INSERT INTO entries VALUES (1, ?1, ?2, 9223372036854775807)", -1,
                       &entry, nullptr);
  }
  const std::vector<char> payload(kBodyBytes, 'p');
  const auto start = Clock::now();
  for (int i = 0; i < n;) {
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (int j = 0; j < 1000 && i < n; ++j, ++i) {
      sqlite3_bind_blob(body, 1, payload.data(), static_cast<int>(payload.size()), SQLITE_STATIC);
      if (!check(sqlite3_step(body), db, "insert")) return 0;
      sqlite3_reset(body);
      if (entry != nullptr) {
        sqlite3_bind_int64(entry, 1, i + 1);
        sqlite3_bind_int64(entry, 2, sqlite3_last_insert_rowid(db));
        if (!check(sqlite3_step(entry), db, "insert")) return 0;
        sqlite3_reset(entry);
      }
    }
    if (!check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit")) return 0;
  }
  const double rate = n / seconds_since(start);
  sqlite3_finalize(body);
  sqlite3_finalize(entry);
  sqlite3_close(db);
  remove_db(db_path);
  return rate;
}

core::Message bench_message() {
  core::Message m;
  m.origin = core::ClientId{"dev1", ""};
  m.body.assign(kBodyBytes, std::byte{'p'});
  return m;
}

std::unique_ptr<store::MessageStore> open(const fs::path& db, config::StoreSync sync,
                                          boost::asio::io_context& ioc, ops::Registry& registry) {
  remove_db(db);
  store::Options options;
  options.path = db;
  options.sync = sync;
  options.max_disk_bytes = 8ull << 30;
  std::string diagnostic;
  auto s = store::open_sqlite_store(options, registry, core::SystemClock::instance(),
                                    ioc.get_executor(), diagnostic);
  if (!s) {
    std::fprintf(stderr, "open: %s\n", diagnostic.c_str());
    std::exit(1);
  }
  return std::move(*s);
}

struct AppendFigures {
  double rate = 0;
  double per_commit = 0;
};

/// `appenders` concurrent callers, each appending one message at a time and starting the next
/// when the previous completes (like sessions acking QoS 1 after commit).
AppendFigures group_commit_rate(const fs::path& db, config::StoreSync sync, const Settings& s) {
  boost::asio::io_context ioc;
  ops::Registry registry;
  auto store = open(db, sync, ioc, registry);
  const store::QueueId queue{"iothub", store::kDefaultPriority};
  int issued = 0;
  int completed = 0;
  std::function<void()> next = [&] {
    if (issued >= s.messages) return;
    ++issued;
    store::AppendBatch batch(1);
    batch[0].message = bench_message();
    batch[0].targets.push_back(store::Target{queue, std::chrono::seconds(7200)});
    store->async_append(std::move(batch), [&](core::Result<store::AppendResult> r) {
      if (!r) {
        std::fprintf(stderr, "append: %s\n", r.error().message().c_str());
        std::exit(1);
      }
      ++completed;
      next();
    });
  };
  const auto start = Clock::now();
  for (int i = 0; i < s.appenders; ++i)
    next();
  ioc.run();
  AppendFigures f;
  f.rate = completed / seconds_since(start);
  auto stats = [&] {
    std::optional<core::Result<store::StoreStats>> out;
    store->async_stats([&](core::Result<store::StoreStats> r) { out.emplace(std::move(r)); });
    ioc.restart();
    ioc.run();
    return std::move(*out);
  }();
  if (stats) f.per_commit = static_cast<double>(completed) / static_cast<double>(stats->commits);
  store.reset();
  remove_db(db);
  return f;
}

/// Preloads the queue, then peeks 500 and acks them until it is empty.
double drain_rate(const fs::path& db, const Settings& s) {
  boost::asio::io_context ioc;
  ops::Registry registry;
  auto store = open(db, config::StoreSync::full, ioc, registry);
  const store::QueueId queue{"iothub", store::kDefaultPriority};
  for (int done = 0; done < s.messages;) {
    store::AppendBatch batch;
    for (int i = 0; i < 1000 && done < s.messages; ++i, ++done) {
      batch.push_back(store::AppendItem{bench_message(), {store::Target{queue, std::nullopt}}});
    }
    store->async_append(std::move(batch), [](core::Result<store::AppendResult>) {});
  }
  ioc.run();
  ioc.restart();
  std::uint64_t drained = 0;
  std::function<void()> step = [&] {
    store->async_peek(queue, 500, [&](core::Result<std::vector<store::StoredEntry>> r) {
      if (!r || r->empty()) return;
      drained += r->size();
      store->async_ack(queue, r->back().seq, [&](core::Result<std::uint64_t> a) {
        if (a) step();
      });
    });
  };
  const auto start = Clock::now();
  step();
  ioc.run();
  const double rate = static_cast<double>(drained) / seconds_since(start);
  if (drained != static_cast<std::uint64_t>(s.messages)) {
    std::fprintf(stderr, "drained %llu of %d\n", static_cast<unsigned long long>(drained),
                 s.messages);
  }
  store.reset();
  remove_db(db);
  return rate;
}

}  // namespace

struct Range {
  double best = 0;
  double worst = 0;
  void add(double v) {
    worst = best == 0 ? v : std::min(worst, v);
    best = std::max(best, v);
  }
};

int main(int argc, char** argv) {
  Settings s;
  int repeat = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--messages") {
      s.messages = std::atoi(argv[i + 1]);
    } else if (flag == "--appenders") {
      s.appenders = std::atoi(argv[i + 1]);
    } else if (flag == "--dir") {
      s.dir = argv[i + 1];
    } else if (flag == "--repeat") {
      repeat = std::max(1, std::atoi(argv[i + 1]));
    } else {
      std::fprintf(stderr,
                   "usage: store_bench [--messages N] [--appenders C] [--dir DIR] [--repeat R]\n");
      return 2;
    }
  }
  const fs::path db = s.dir / ("store-bench-" + std::to_string(::getpid()) + ".db");
  std::printf(
      "store_bench: %d messages of %zu bytes, %d concurrent appenders, dir %s, %d rounds\n"
      "(each round runs every measurement once, interleaved, so background load hits them "
      "alike)\n\n",
      s.messages, kBodyBytes, s.appenders, s.dir.c_str(), repeat);
  Range raw, raw2, full, normal, drain, full_ratio, per_commit;
  for (int r = 0; r < repeat; ++r) {
    const double raw_r = raw_insert_rate(db, s.messages, false);
    const auto full_r = group_commit_rate(db, config::StoreSync::full, s);
    raw.add(raw_r);
    full.add(full_r.rate);
    full_ratio.add(full_r.rate / raw_r);
    per_commit.add(full_r.per_commit);
    raw2.add(raw_insert_rate(db, s.messages, true));
    normal.add(group_commit_rate(db, config::StoreSync::normal, s).rate);
    drain.add(drain_rate(db, s));
  }
  auto row = [](const char* name, const Range& range) {
    std::printf("%-50s %12.0f %12.0f\n", name, range.best, range.worst);
  };
  std::printf("%-50s %12s %12s\n", "measurement (msg/s)", "best", "worst");
  row("raw SQLite batched insert (1000/txn, sync=full)", raw);
  row("raw SQLite, the store's rows (body+entry+index)", raw2);
  row("store group-commit append, sync=full", full);
  row("store group-commit append, sync=normal", normal);
  row("store drain (peek 500 + ack)", drain);
  std::printf("%-50s %11.0f%% %11.0f%%\n", "sync=full append / raw, same round",
              100 * full_ratio.best, 100 * full_ratio.worst);
  std::printf("%-50s %12.0f %12.0f\n", "messages per commit at sync=full", per_commit.best,
              per_commit.worst);
  std::printf(
      "\ntargets (best round): append at sync=full >= 50%% of raw: %s; drain >= 50000 msg/s: %s\n",
      full_ratio.best >= 0.5 ? "met" : "NOT met", drain.best >= 50000 ? "met" : "NOT met");
  return 0;
}
