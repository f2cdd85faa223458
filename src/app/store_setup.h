// Opens the configured store backend (store.backend: sqlite or postgres) and checks it for
// --check-config / --check-connection, so that run() and main() share one reading of `store:`.
#pragma once
#include <iosfwd>
#include <memory>
#include <string>

#include "store/store.h"

namespace config {
struct Config;
}

namespace app {

// The backend's own settings from store.postgres.
store::PostgresOptions postgres_options(const config::Config& config);
// Opens the backend `config.store.backend` names with `options`; nullptr and `error` on failure.
std::unique_ptr<store::Store> open_store(const config::Config& config,
                                         const store::Options& options, std::string& error);
// What a store name says in logs: the SQLite file, or "postgres" (never the DSN: it may hold a
// password).
std::string store_location(const config::Config& config);
// The checks beyond the YAML's own: the DSN's syntax (libpq's parser). With `connect`, also
// connects (postgres) and reports the server's and the schema's versions. Prints what it found;
// returns the exit code: 0 fine, 2 invalid configuration, 1 cannot connect.
int check_store(const config::Config& config, bool connect, std::ostream& out, std::ostream& err);

}  // namespace app
