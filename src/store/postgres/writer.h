// The writer connection of the PostgreSQL store (used by the store's writer thread only): a group
// of inbound messages and their delivery rows in ONE transaction sent as one pipeline, committed
// with synchronous_commit on; the deliveries' state changes (claims with FOR UPDATE SKIP LOCKED,
// finishes checked against the lease, requeues) in small transactions, durable too: unlike one
// SQLite file, a PostgreSQL server fails over or restarts while replicas keep working, and a claim
// or outcome lost with the WAL's tail would repeat deliveries that were already made.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "store/commit_rows.h"
#include "store/postgres/connection.h"
#include "store/store.h"

namespace store::postgres {

class Writer {
 public:
  Writer(const PostgresOptions& options, std::string owner, int64_t lease_ms, uint64_t max_size)
      : link_(options), owner_(std::move(owner)), lease_ms_(lease_ms), max_size_(max_size) {}

  // Connected now (reconnecting after a loss, with a backoff).
  bool ensure();
  Link& link() { return link_; }
  Connection& db() { return link_.db(); }
  const std::string& owner() const { return owner_; }
  // Called after a commit that queued rows other replicas may take ("inbound", "outbound"):
  // the Listener announces them (NOTIFY) outside this connection's transactions.
  void set_announce(std::function<void(const std::string& what)> announce) {
    announce_ = std::move(announce);
  }

  // Inside the group's transaction after the inserts: the outbound inserts and the outcomes
  // riding along. False fails the group (db().failure() says why); `notify_outbound` set when
  // outbound rows were written.
  using Also = std::function<bool(Connection& db, int64_t now_ms, bool& notify_outbound)>;
  using Claimed = store::ClaimedRow;
  // All of `messages` committed (ok), or none: full (no room under max_size, or the server's
  // disk), io_error, closed. The first `claim` delivery rows are inserted in_flight (hot path).
  Status write(const std::vector<const InboundMessage*>& messages, uint64_t extra_bytes,
               const Also& also, size_t claim, std::vector<Claimed>* claimed);

  std::vector<DeliveryJob> claim(size_t limit, int64_t now_ms, Status& status);

  using Finish = store::FinishRow;
  // The UPDATE of one outcome, to send in a pipeline (inside a transaction).
  Command finish_command(const Finish& finish, int64_t now_ms) const;
  // Several outcomes in one transaction; ok or the failure (all rolled back).
  Status finish_all(const std::vector<Finish>& finishes, int64_t now_ms);

  uint64_t requeue_expired(int64_t now_ms, Status& status);
  // At open: rows left in flight by owners no live session holds the owner lock of (a process
  // that died, this owner's previous run) go back to queued at once instead of after their lease.
  bool requeue_dead_owners(int64_t now_ms, std::string& error);
  uint64_t requeue_orphaned(const std::vector<std::string>& endpoints, int64_t now_ms);
  Redelivery redeliver(const std::string& message_id, int64_t now_ms);
  // Store::route_inbound: the rows queued, due at now_ms, committed durably.
  Status add_deliveries(const std::string& message_id, const std::vector<Delivery>& deliveries,
                        int64_t now_ms);
  // The same for an outbound message's delivery event rows (Store::redeliver_events).
  Redelivery redeliver_events(const std::string& message_id, int64_t now_ms);
  // Whether a message of `bytes` fits now (connected, and under max_size).
  Status probe(size_t bytes);
  void close() {
    closed_ = true;
    link_.db().disconnect();
  }
  bool closed() const { return closed_; }

  // Transactions on the writer's connection (synchronous_commit on, as every transaction here).
  // After a successful COMMIT, commit() announces each payload given ("" = none).
  bool begin();
  bool commit(const std::string& notify = {}, const std::string& notify2 = {});
  // A prepared statement's name and text (Connection::run).
  struct NamedSql {
    const char* name;
    const char* sql;
  };
  Redelivery requeue_message(const std::string& message_id, int64_t now_ms,
                             const NamedSql& count_sql, const NamedSql& requeue_sql,
                             const std::string& notify);
  Status rollback();

 private:
  Status room(uint64_t bytes);
  void insert_commands(const InboundMessage& message, size_t index, int64_t now_ms, size_t& claim,
                       std::vector<Claimed>* claimed, std::vector<Command>& commands,
                       size_t& queued);

  Link link_;
  std::string owner_;
  int64_t lease_ms_;
  uint64_t max_size_;
  std::function<void(const std::string& what)> announce_;
  bool closed_ = false;
  uint64_t size_ = 0;  // the message bytes held at sized_at_, plus what was written since
  std::chrono::steady_clock::time_point sized_at_{};
};

}  // namespace store::postgres
