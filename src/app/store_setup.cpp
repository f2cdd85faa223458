// store.backend → the store (app/store_setup.h).
#include "app/store_setup.h"

#include <ostream>

#include "config/config.h"

namespace app {

store::PostgresOptions postgres_options(const config::Config& config) {
  const config::Postgres& postgres = config.store.postgres;
  store::PostgresOptions options;
  options.dsn = postgres.dsn;
  options.password_file = postgres.password_file;
  options.pool_size = postgres.pool_size;
  options.statement_timeout = postgres.statement_timeout;
  options.connect_timeout = postgres.connect_timeout;
  return options;
}

std::unique_ptr<store::Store> open_store(const config::Config& config,
                                         const store::Options& options, std::string& error) {
  if (config.store.backend == "postgres")
    return store::open_postgres(options, postgres_options(config), error);
  return store::open_sqlite(options, error);
}

std::string store_location(const config::Config& config) {
  return config.store.backend == "postgres" ? std::string("postgres") : config.store.path;
}

int check_store(const config::Config& config, bool connect, std::ostream& out, std::ostream& err) {
  if (config.store.backend != "postgres") {
    if (connect)
      out << "smtp-bridge: store: sqlite at " << config.store.path
          << " (embedded: nothing to connect to)\n";
    return 0;
  }
  std::string error;
  if (!store::validate_postgres_dsn(config.store.postgres.dsn, error)) {
    err << "smtp-bridge: store.postgres.dsn: " << error << "\n";
    return 2;
  }
  if (!connect) return 0;
  std::string detail;
  if (!store::check_postgres(postgres_options(config), detail)) {
    err << "smtp-bridge: store.postgres: " << detail << "\n";
    return 1;
  }
  out << "smtp-bridge: store: postgres: " << detail << "\n";
  return 0;
}

}  // namespace app
