// The writer connection: writes a group of inbound messages and their delivery rows in ONE
// transaction (BEGIN IMMEDIATE … COMMIT; the COMMIT fsyncs the WAL). Used by one thread only.
#pragma once
#include <string>
#include <vector>

#include "store/sqlite/database.h"
#include "store/store.h"

namespace store::sqlite {

class Writer {
 public:
  // Takes the configured, migrated connection and prepares the statements it reuses.
  bool open(Connection db, std::string& error);
  // All of `messages` committed, or none (rolled back): ok, full or io_error.
  Status write(const std::vector<const InboundMessage*>& messages);
  // Finalizes the statements and closes the connection; write() then answers closed.
  void close() {
    statements_ = {};
    db_ = Connection();
  }

 private:
  int insert(const InboundMessage& message, int64_t now_ms);
  Status fail(int result_code);

  Connection db_;
  struct Statements {
    Statement begin, commit, rollback, insert_message, insert_delivery;
  } statements_;
};

}  // namespace store::sqlite
