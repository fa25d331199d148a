#pragma once

// The store's schema and its forward migrations. docs/store.md explains each table.

#include <cstdint>
#include <string>

#include "edgehub/core/result.hpp"
#include "store/sqlite.hpp"

namespace edgehub::store::schema {

/// Creates the current schema in an empty database (inside the caller's transaction).
core::Result<void> create(sqlite::Db& db);

/// The name of queue `queue_id`'s entry table ("queue_<id>"; ids come from queues.id).
std::string queue_table(std::int64_t queue_id);

/// Creates the entry table of a new queue with its expiry index and the trigger that releases
/// shared bodies (inside the caller's transaction).
core::Result<void> create_queue_table(sqlite::Db& db, std::int64_t queue_id);

/// The version recorded in schema_version; 0 when the table does not exist.
core::Result<int> read_version(sqlite::Db& db);

/// Migrates forward from `from` to kSchemaVersion, one step per transaction, so a crash in
/// the middle leaves a consistent older version that the next start migrates again.
/// Also converts a file without incremental auto-vacuum (VACUUM, outside any transaction).
core::Result<void> migrate(sqlite::Db& db, int from, std::string& diagnostic);

}  // namespace edgehub::store::schema
