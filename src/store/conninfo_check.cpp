// Checks a PostgreSQL DSN's syntax with libpq's own parser (store.h validate_postgres_dsn), so
// that --check-config refuses a DSN the backend could never use, without connecting.
#include <libpq-fe.h>

#include <string_view>

#include "store/store.h"

namespace store {

bool validate_postgres_dsn(const std::string& dsn, std::string& error) {
  char* message = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &message);
  if (options) {
    PQconninfoFree(options);
    return true;
  }
  // libpq names an unknown keyword, which is safe to show; its other messages may quote a piece
  // of the string (a password, say), so they are summarised instead.
  std::string_view text = message ? message : "";
  if (text.rfind("invalid connection option", 0) == 0 || text.rfind("invalid URI", 0) == 0) {
    error = std::string(text.substr(0, text.find('\n')));
    if (text.rfind("invalid URI", 0) == 0) error = "is not a valid postgresql:// URI";
  } else {
    error = "is not a valid libpq connection string or URI";
  }
  if (message) PQfreemem(message);
  return false;
}

}  // namespace store
