// The PostgreSQL store's schema: the same tables and columns as the SQLite store's latest schema
// (other tools and the contract tests read them by name), versioned in schema_versions and
// migrated under an advisory lock so that replicas starting together migrate once.
#pragma once
#include <string>

#include "store/postgres/connection.h"

namespace store::postgres {

// The schema version this build creates and knows.
int known_schema_version();

// Advisory lock keys (the pair form: class, hashtext(current_schema())), so that two bridges in
// one database under different schemas (search_path) do not share locks.
constexpr int kLockClass = 0x53424d47;  // "SBMG"
// The SQL of the lock's second key for each use.
constexpr const char* kMigrateKey = "hashtext('migrate:' || current_schema())";
constexpr const char* kPruneKey = "hashtext('prune:' || current_schema())";
constexpr const char* kHousekeepingKey = "hashtext('housekeeping:' || current_schema())";
// A store's owner lock (class "SBOW" = 1396854615, hashtext of schema and owner): held by its
// LISTEN session while the process lives, so that a store opening can tell a dead owner's rows.
// $1 = the owner.
constexpr const char* kOwnerLock =
    "SELECT pg_try_advisory_lock(1396854615, hashtext(current_schema() || ':' || $1::text))";
constexpr const char* kOwnerUnlock =
    "SELECT pg_advisory_unlock(1396854615, hashtext(current_schema() || ':' || $1::text))";

// What Options::max_size limits and size_bytes() reports: the bytes of the messages held in both
// directions, plus 512 a message for its rows (the files' size would not drop after a prune: the
// space of deleted rows is reused only after VACUUM).
constexpr const char* kHeldBytes =
    "SELECT (SELECT coalesce(sum(size + 512), 0) FROM inbound_messages)"
    " + (SELECT coalesce(sum(size + 512), 0) FROM outbound_messages)";

// The channel every store LISTENs on; payload "inbound" or "outbound" (store.h on_remote_rows).
constexpr const char* kChannel = "smtp_bridge_rows";

// Creates or migrates the schema in current_schema() under pg_advisory_lock: false and `error`
// when the search_path names no schema, a migration fails, or the schema is newer than this
// build (the error names both versions).
bool migrate(Connection& db, std::string& error);

// The schema's version (0 = none yet) read without changing anything; false on failure.
bool read_schema_version(Connection& db, int& version, std::string& error);

}  // namespace store::postgres
