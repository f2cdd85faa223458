// The suppression list's SQL on PostgreSQL (store.h struct Suppression): the upsert and delete on
// the writer connection (each statement its own durable transaction), the reads on a pool
// connection inside the Readers' snapshot. The enqueue's own check is in outbound.cpp.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "store/postgres/connection.h"
#include "store/postgres/writer.h"
#include "store/store.h"

namespace store::postgres {

Status add_suppression(Writer& writer, const Suppression& suppression, bool& created);
// The upsert alone, inside the caller's transaction (record_bounce); false when it failed.
bool upsert_suppression(Connection& db, const Suppression& suppression, bool& created);
std::optional<bool> remove_suppression(Writer& writer, const std::string& address);
// On a reader's connection inside its snapshot; false when a statement failed.
bool list_suppressions(Connection& db, const std::string& after, size_t limit,
                       std::vector<Suppression>& out);
bool find_suppressed(Connection& db, const std::vector<std::string>& addresses,
                     std::vector<std::string>& out);

}  // namespace store::postgres
