// The `store:` section: the backend (sqlite, embedded; postgres, several replicas), its place
// (a file, or a server's DSN), size limit, retention and group commit delay.
#include "config/sections.h"

namespace config::detail {
namespace {

void load_postgres(Reader& reader, const YAML::Node& node, Postgres& postgres, bool required) {
  const std::string key = "store.postgres";
  if (!reader.expect_map(node, key,
                         {"dsn", "dsn_file", "dsn_env", "password_file", "pool_size",
                          "statement_timeout", "connect_timeout"}))
    return;
  reader.read_secret(node, key, "dsn", postgres.dsn, required);
  reader.read_string(node, key, "password_file", postgres.password_file);
  check_readable(reader, node, key, "password_file", postgres.password_file);
  reader.read_unsigned(node, key, "pool_size", postgres.pool_size, 1, 64);
  // A statement that takes longer is cancelled by the server and the write answered as failed
  // (451 / 503), never a session that waits for ever.
  reader.read_duration(node, key, "statement_timeout", postgres.statement_timeout, Duration(100));
  reader.read_duration(node, key, "connect_timeout", postgres.connect_timeout, Duration(1000));
}

}  // namespace

void load_store(Reader& reader, const YAML::Node& node, Store& store) {
  const std::string key = "store";
  if (!reader.expect_map(node, key,
                         {"backend", "path", "max_size", "retention", "commit_delay", "postgres"}))
    return;
  reader.read_choice(node, key, "backend", {"sqlite", "postgres"}, store.backend);
  reader.read_string(node, key, "path", store.path, false);
  reader.read_size(node, key, "max_size", store.max_size);
  reader.read_duration(node, key, "commit_delay", store.commit_delay);
  if (auto retention = Reader::field(node, "retention")) {
    if (reader.expect_map(*retention, "store.retention", {"delivered", "dead"})) {
      const Duration minimum(1);
      reader.read_duration(*retention, "store.retention", "delivered", store.retention_delivered,
                           minimum);
      reader.read_duration(*retention, "store.retention", "dead", store.retention_dead, minimum);
    }
  }
  const bool postgres = store.backend == "postgres";
  if (postgres && !Reader::field(node, "commit_delay")) store.commit_delay = kPostgresCommitDelay;
  if (auto section = Reader::field(node, "postgres"))
    load_postgres(reader, *section, store.postgres, postgres);
  else if (postgres)
    reader.error("store.postgres.dsn", node, "is required when store.backend is postgres");
}

}  // namespace config::detail
