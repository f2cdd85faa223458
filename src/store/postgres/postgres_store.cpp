// The PostgreSQL backend (store.h open_postgres). Placeholder until the libpq implementation lands:
// opening it is a clear error, so `store.backend: postgres` fails at start instead of misbehaving.
#include "store/store.h"

namespace store {

std::unique_ptr<Store> open_postgres(const Options&, const PostgresOptions&, std::string& error) {
  error = "the PostgreSQL backend is not built into this binary yet";
  return nullptr;
}

bool check_postgres(const PostgresOptions&, std::string& detail) {
  detail = "the PostgreSQL backend is not built into this binary yet";
  return false;
}

}  // namespace store
