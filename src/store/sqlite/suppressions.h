// The suppression list's SQL on SQLite (store.h struct Suppression): the writes on the writer's
// connection (writer thread, each its own durable transaction), the reads on the readers'
// connection. The enqueue's own check is in outbound_writer.cpp.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "store/sqlite/database.h"
#include "store/sqlite/writer.h"
#include "store/store.h"

namespace store::sqlite {

Status add_suppression(Writer& writer, const Suppression& suppression, bool& created);
// The upsert alone, inside the caller's transaction (record_bounce): SQLITE_OK or the code.
int upsert_suppression(Connection& db, const Suppression& suppression, bool& created);
std::optional<bool> remove_suppression(Writer& writer, const std::string& address);
// On the readers' connection (under its mutex); empty when a statement failed.
std::vector<Suppression> list_suppressions(Connection& db, const std::string& after, size_t limit);
std::vector<std::string> find_suppressed(Connection& db, const std::vector<std::string>& addresses);

}  // namespace store::sqlite
