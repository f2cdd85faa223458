// Suppressions on PostgreSQL. The address is the primary key, stored lower-cased (store.h
// suppression_key); an add is one INSERT ... ON CONFLICT DO UPDATE, so two replicas adding the
// same address at once both succeed and one row remains (xmax = 0 tells the inserting one).
#include "store/postgres/suppressions.h"

namespace store::postgres {
namespace {

constexpr const char* kUpsert =
    "INSERT INTO suppressions (address, reason, created_at, status, diagnostic, message_id, rcpt)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (address) DO UPDATE SET"
    " reason = excluded.reason, created_at = excluded.created_at, status = excluded.status, "
    "diagnostic = excluded.diagnostic,"
    " message_id = excluded.message_id, rcpt = excluded.rcpt"
    " RETURNING (xmax = 0)";
constexpr const char* kDelete = "DELETE FROM suppressions WHERE address = $1";
constexpr const char* kList =
    "SELECT address, reason, created_at, status, diagnostic, message_id, rcpt FROM suppressions"
    " WHERE address > $1 ORDER BY address LIMIT $2";
// Which of the given addresses are suppressed, as given ($1 keeps the caller's spelling).
constexpr const char* kSuppressed =
    "SELECT a.address FROM unnest($1::text[]) WITH ORDINALITY AS a(address, n)"
    " WHERE EXISTS (SELECT 1 FROM suppressions s WHERE s.address = lower(a.address COLLATE \"C\"))"
    " ORDER BY a.n";

}  // namespace

bool upsert_suppression(Connection& db, const Suppression& suppression, bool& created) {
  Params params;
  params.text(suppression_key(suppression.address))
      .text(suppression.reason)
      .integer(suppression.created_at_ms)
      .text(suppression.status)
      .text(suppression.diagnostic)
      .text(suppression.message_id)
      .text(suppression.rcpt);
  Result row = db.run("sb_suppression_add", kUpsert, params);
  if (!row.ok() || row.rows() != 1) return db.fail(row);
  created = row.integer(0, 0) != 0;
  return true;
}

Status add_suppression(Writer& writer, const Suppression& suppression, bool& created) {
  created = false;
  if (writer.closed()) return Status::closed;
  if (!writer.ensure()) return Status::io_error;
  if (!upsert_suppression(writer.db(), suppression, created)) return Status::io_error;
  return Status::ok;
}

std::optional<bool> remove_suppression(Writer& writer, const std::string& address) {
  if (writer.closed() || !writer.ensure()) return std::nullopt;
  Params params;
  params.text(suppression_key(address));
  Result deleted = writer.db().run("sb_suppression_remove", kDelete, params);
  if (!deleted.ok()) return writer.db().fail(deleted), std::nullopt;
  return deleted.affected() > 0;
}

bool list_suppressions(Connection& db, const std::string& after, size_t limit,
                       std::vector<Suppression>& out) {
  Params params;
  params.text(after).integer(static_cast<int64_t>(limit));
  Result rows = db.run("sb_suppression_list", kList, params);
  if (!rows.ok()) return db.fail(rows);
  for (int r = 0; r < rows.rows(); ++r) {
    Suppression s;
    s.address = rows.text(r, 0);
    s.reason = rows.text(r, 1);
    s.created_at_ms = rows.integer(r, 2);
    s.status = rows.text(r, 3);
    s.diagnostic = rows.text(r, 4);
    s.message_id = rows.text(r, 5);
    s.rcpt = rows.text(r, 6);
    out.push_back(std::move(s));
  }
  return true;
}

bool find_suppressed(Connection& db, const std::vector<std::string>& addresses,
                     std::vector<std::string>& out) {
  if (addresses.empty()) return true;
  Params params;
  params.text_array(addresses);
  Result rows = db.run("sb_suppressed", kSuppressed, params);
  if (!rows.ok()) return db.fail(rows);
  for (int r = 0; r < rows.rows(); ++r) out.push_back(rows.text(r, 0));
  return true;
}

}  // namespace store::postgres
