#include "store/store_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "edgehub/store/sqlite_store.hpp"
#include "store/schema.hpp"

namespace edgehub::store {
namespace {

namespace fs = std::filesystem;

std::string what_to_do(const fs::path& path) {
  const auto p = path.string();
  return " edgehubd has not modified the file. Keep it for diagnosis: stop edgehubd, move it aside "
         "(mv " +
         p + " " + p + ".bad; move " + p + "-wal and " + p +
         "-shm along with it if present), then start edgehubd again to create an empty store. "
         "Messages held in the old file are not forwarded.";
}

core::Result<void> corrupt(const fs::path& path, const std::string& detail,
                           std::string& diagnostic) {
  diagnostic = "store " + path.string() + " is unusable: " + detail + "." + what_to_do(path);
  return Errc::corrupt;
}

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

core::Result<void> sync_path(const fs::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Errc::io_error;
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errc::io_error;
  return {};
}

/// The quick_check itself, on a read-only connection.
core::Result<void> check_contents(const fs::path& path, std::string& diagnostic) {
  std::string message;
  auto db = sqlite::Db::open(path, SQLITE_OPEN_READONLY, message);
  if (!db) {
    if (db.error() == Errc::corrupt) return corrupt(path, message, diagnostic);
    diagnostic = "cannot open store " + path.string() + ": " + message +
                 ". Check that the file and its directory are readable and writable by the "
                 "edgehubd user.";
    return db.error();
  }
  auto check = db->prepare("PRAGMA quick_check(8)");
  if (!check) return corrupt(path, "quick_check failed to start: " + db->last_error(), diagnostic);
  std::string problems;
  int rc = 0;
  while ((rc = check->step()) == SQLITE_ROW) {
    const auto line = check->text(0);
    if (line != "ok") problems += (problems.empty() ? "" : "; ") + std::string(line);
  }
  if (rc != SQLITE_DONE) {
    return corrupt(path, "quick_check stopped: " + db->last_error(), diagnostic);
  }
  if (!problems.empty()) return corrupt(path, "quick_check: " + problems, diagnostic);
  auto version = schema::read_version(*db);
  if (!version) return corrupt(path, "cannot read the schema: " + db->last_error(), diagnostic);
  if (*version == 0) return corrupt(path, "it holds no edgehubd schema", diagnostic);
  if (*version > kSchemaVersion) {
    diagnostic = "store " + path.string() + " has schema version " + std::to_string(*version) +
                 ", newer than this edgehubd understands (" + std::to_string(kSchemaVersion) +
                 "). Run the newer edgehubd, or move the file aside." + what_to_do(path);
    return Errc::schema_too_new;
  }
  return {};
}

}  // namespace

StoreLock& StoreLock::operator=(StoreLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

StoreLock::~StoreLock() {
  if (fd_ >= 0) ::close(fd_);
}

core::Result<StoreLock> StoreLock::acquire(const fs::path& db, std::string& diagnostic) {
  const auto lock_path = fs::path(db.string() + ".lock");
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    diagnostic = "cannot create " + lock_path.string() + ": " + std::strerror(errno) +
                 ". Check that the state directory exists and is writable by edgehubd.";
    return Errc::unreadable;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    diagnostic = "store " + db.string() +
                 " is in use by another process (is edgehubd running? stop it first).";
    return Errc::locked;
  }
  return StoreLock(fd);
}

core::Result<void> check_store_file(const fs::path& path, std::string& diagnostic) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) {
    diagnostic = "cannot read store " + path.string() + ": " + ec.message() +
                 ". Check the path and that edgehubd may read it.";
    return Errc::unreadable;
  }
  std::array<unsigned char, 100> header{};
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      diagnostic = "cannot read store " + path.string() +
                   ". Check that the file is readable by the edgehubd user.";
      return Errc::unreadable;
    }
    in.read(reinterpret_cast<char*>(header.data()), header.size());
  }
  if (size < header.size()) {
    return corrupt(path,
                   "it is " + std::to_string(size) + " bytes long, shorter than an SQLite header",
                   diagnostic);
  }
  if (std::memcmp(header.data(), "SQLite format 3", 16) != 0) {
    return corrupt(path, "it is not an SQLite database (bad header)", diagnostic);
  }
  std::uint32_t page_size = (std::uint32_t{header[16]} << 8) | header[17];
  if (page_size == 1) page_size = 65536;
  if (page_size < 512 || (page_size & (page_size - 1)) != 0) {
    return corrupt(path, "its header has an invalid page size", diagnostic);
  }
  if (size % page_size != 0) {
    return corrupt(path, "it is truncated (size is not a whole number of pages)", diagnostic);
  }
  const fs::path wal = path.string() + "-wal";
  const fs::path shm = path.string() + "-shm";
  const bool had_wal = fs::exists(wal, ec);
  const bool had_shm = fs::exists(shm, ec);
  const auto wal_bytes = had_wal ? fs::file_size(wal, ec) : 0;
  // The in-header page count is trustworthy when the "version valid for" field matches the
  // change counter; then a file shorter than that is truncated. Not while the WAL holds frames:
  // a checkpoint interrupted by a crash can leave the main file shorter than its new header, and
  // SQLite rewrites those pages from the WAL when it opens the file (quick_check still follows).
  const auto change_counter = be32(&header[24]);
  const auto pages = be32(&header[28]);
  const auto valid_for = be32(&header[92]);
  if (wal_bytes == 0 && valid_for == change_counter && std::uint64_t{pages} * page_size > size) {
    return corrupt(path,
                   "it is truncated (header says " + std::to_string(pages) + " pages, file holds " +
                       std::to_string(size / page_size) + ")",
                   diagnostic);
  }
  // A read-only connection may create the -wal/-shm companions; remove what we created if the
  // file turns out bad, so a refused store is left exactly as found.
  auto r = check_contents(path, diagnostic);
  if (!r) {
    if (!had_wal) fs::remove(wal, ec);
    if (!had_shm) fs::remove(shm, ec);
  }
  return r;
}

core::Result<void> configure_connection(sqlite::Db& db, bool sync_full, std::int64_t cache_kib) {
  if (auto r = db.exec("PRAGMA journal_mode = WAL"); !r) return r;
  if (auto r = db.exec(sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
      !r) {
    return r;
  }
  const std::string cache = "PRAGMA cache_size = -" + std::to_string(cache_kib);
  if (auto r = db.exec(cache.c_str()); !r) return r;
  // Small gateways: temporary b-trees in memory, WAL kept near 4 MiB after checkpoints.
  if (auto r = db.exec("PRAGMA temp_store = MEMORY"); !r) return r;
  if (auto r = db.exec("PRAGMA journal_size_limit = 4194304"); !r) return r;
  return db.exec("PRAGMA wal_autocheckpoint = 1000");
}

core::Result<void> create_store_file(const fs::path& path, std::string& diagnostic) {
  std::error_code ec;
  const fs::path tmp = path.string() + ".creating";
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    fs::remove(fs::path(tmp.string() + suffix), ec);
  }
  {
    std::string message;
    auto db = sqlite::Db::open(tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, message);
    if (!db) {
      diagnostic = "cannot create store " + tmp.string() + ": " + message +
                   ". Check that the state directory exists and is writable by edgehubd.";
      return db.error();
    }
    // Page size and auto-vacuum mode are fixed when the first table is created.
    core::Result<void> r = db->exec("PRAGMA page_size = 4096");
    if (r) r = db->exec("PRAGMA auto_vacuum = INCREMENTAL");
    if (r) r = configure_connection(*db, true, 2048);
    if (r) r = db->exec("BEGIN IMMEDIATE");
    if (r) r = schema::create(*db);
    if (r) r = db->exec("COMMIT");
    if (r) r = db->exec("PRAGMA wal_checkpoint(TRUNCATE)");
    if (!r) {
      diagnostic = "cannot create store " + tmp.string() + ": " + db->last_error();
      return r;
    }
  }  // closing the last connection checkpoints and removes the WAL
  if (auto r = sync_path(tmp, O_RDONLY); !r) {
    diagnostic = "cannot sync " + tmp.string() + ": " + std::strerror(errno);
    return r;
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    diagnostic = "cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message();
    return Errc::io_error;
  }
  (void)sync_path(path.parent_path().empty() ? fs::path(".") : path.parent_path(),
                  O_RDONLY | O_DIRECTORY);
  return {};
}

}  // namespace edgehub::store
