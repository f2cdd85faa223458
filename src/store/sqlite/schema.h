// The store's schema and its migrations, versioned by PRAGMA user_version, and the connection
// settings the durability contract needs (WAL, synchronous=FULL, foreign keys).
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "store/sqlite/database.h"

namespace store::sqlite {

// The page size of a database this build creates. A message is mostly overflow pages, each a WAL
// frame written (header and page) and later copied by a checkpoint: 16 KiB pages make a 32 KB
// message 2 frames instead of 8. Larger pages cost more on the small rows and index pages every
// commit rewrites. An existing database keeps its page size (WAL mode cannot change it).
constexpr int kPageSize = 16384;

// A new database gets kPageSize; then WAL journal, synchronous=FULL (each COMMIT fsyncs the WAL),
// foreign keys on.
bool configure(Connection& db, std::string& error);
// Applies the migrations the database has not seen yet, each in its own transaction.
// `resolve` (may be empty) names the endpoints of rows stored before names (schema 8).
bool migrate(Connection& db, std::string& error,
             const std::function<EndpointRef(const std::string&)>& resolve = {});
// Deliveries and outbound recipients left in_flight by a process that died go back to queued
// (at-least-once delivery).
bool requeue_in_flight(Connection& db, int64_t now_ms, std::string& error);
// Caps the database at `max_size` bytes (PRAGMA max_page_count); past it writes fail SQLITE_FULL.
bool limit_size(Connection& db, uint64_t max_size, std::string& error);

}  // namespace store::sqlite
