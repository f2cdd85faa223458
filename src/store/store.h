// The durable queue between the receiving and the sending side of each direction
// (ARCHITECTURE.md "The Store"). A message handed to enqueue_inbound is acknowledged to its
// caller only after it is committed durably (fsync); nothing else in the bridge touches SQL.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace store {

enum class Status {
  ok,        // committed durably
  full,      // the store reached its size limit (or the disk is full)
  io_error,  // the commit failed (disk error, corrupt database)
  closed,    // the store is shutting down and takes no more writes
};
const char* to_string(Status status);

// One delivery row per (message, endpoint): the recipients that endpoint's route matched.
struct Delivery {
  // The endpoint's name (routes[].endpoints[].name), or its URL: Options::resolve_endpoint maps
  // what is given here to the name and origin stored.
  std::string endpoint;
  std::vector<std::string> rcpt_to;
  // Set by the store from Options::resolve_endpoint (a default initializer, so that the older
  // two-field aggregate initializations stay warning-free).
  std::string origin = {};
};

// An endpoint as a delivery row names it: its name, and the origin of its URL
// ("scheme://host:port", never the path or query, which may carry a token); "" when unknown.
struct EndpointRef {
  std::string name;
  std::string origin;
};

struct InboundMessage {
  std::string id;  // UUIDv7 chosen by the caller (the SMTP reply names it)
  int64_t received_at_ms = 0;
  std::string mail_from;  // "" for the null reverse-path
  std::vector<std::string> rcpt_to;
  std::string envelope_json;  // the envelope object as bridge.v1 shows it
  std::string data;           // the message bytes exactly as stored (Received: prepended)
  std::vector<Delivery> deliveries;
};

// Delivery states (ARCHITECTURE.md): queued → in_flight → delivered | deferred | dead, and
// orphaned: its endpoint is not configured (held, queued again when a configuration names it).
struct DeliveryRow {
  std::string id;  // UUIDv7 of the delivery (the webhook-id)
  std::string message_id;
  std::string endpoint;  // the endpoint's name
  std::string origin;    // the origin of the URL the row was created or last attempted for
  std::vector<std::string> rcpt_to;
  std::string state;
  int attempts = 0;
  int64_t next_attempt_at_ms = 0;
  std::string last_error;  // the last failed attempt's short text; "" when none
  // The claim's lease (ARCHITECTURE.md "Leases"): while state is in_flight, the row belongs to
  // lease_owner (a store's per-process id) until lease_until; after that anyone may queue it
  // again. 0 and "" when not in flight.
  int64_t lease_until_ms = 0;
  std::string lease_owner;
  // Poison messages (issue 11): renders started without an outcome reached after a successful
  // render since. Every claim adds one in its own transaction, before the render starts, so a
  // render that crashes the process counts; an outcome reached after a successful render sets it
  // back to 0. So after a claim, render_attempts - 1 earlier attempts failed to render or ended
  // without an outcome (the process died, or the lease ended, while the row was in flight).
  int render_attempts = 0;
};

struct StoredInbound {
  std::string id;
  int64_t received_at_ms = 0;
  std::string mail_from;
  std::vector<std::string> rcpt_to;
  std::string envelope_json;
  std::string data;
  std::vector<DeliveryRow> deliveries;
};

// One message as the API lists it: the envelope, the size, the first bytes (enough for the
// header's summary) and its delivery rows.
struct InboundSummary {
  std::string id;
  int64_t received_at_ms = 0;
  std::string mail_from;
  std::vector<std::string> rcpt_to;
  uint64_t size = 0;  // bytes of the stored message
  std::string head;   // the first InboundQuery::head_bytes bytes of the stored message
  std::vector<DeliveryRow> deliveries;
};

struct InboundQuery {
  std::string state;      // "" = every message; else those with a delivery in this state
  std::string before_id;  // "" = from the newest; else only ids ordered before this one (paging)
  size_t limit = 50;
  size_t head_bytes = 16384;
};

// What redeliver_inbound did: found = the message exists; deliveries = its rows; requeued = the
// rows put back to queued (a row in flight right now is left to finish its attempt).
struct Redelivery {
  bool found = false;
  uint64_t deliveries = 0;
  uint64_t requeued = 0;
};

// A due delivery handed to the dispatcher, with what it needs to render the payload.
struct DeliveryJob {
  DeliveryRow delivery;  // state in_flight, attempts already counting this attempt
  int64_t received_at_ms = 0;
  std::string envelope_json;
  std::string data;
};

// The hot path from a group commit to the dispatcher, so that a new message is not read back
// from the database (the two sides still meet only in the Store). Before each group commit that
// writes delivery rows, the writer asks reserve(n) how many of its n new rows the consumer takes
// now; that many (the first in arrival order) are inserted in_flight with attempts 1, claimed in
// the same transaction, and the rest queued for claim_deliveries. After the commit, take() gets
// the claimed rows as jobs with the bytes the writer holds (none when the commit failed), the
// number reserve() granted, and how many rows went to the queue. Both are called on the writer
// thread, always as a pair, under the store's consumer lock (which the senders' done callbacks
// of that commit also run under): neither may call set_delivery_consumer. In-flight rows of a
// process that died are queued again at the next open, as every claim is (at least once).
class DeliveryConsumer {
 public:
  virtual ~DeliveryConsumer() = default;
  virtual size_t reserve(size_t rows) = 0;
  virtual void take(std::vector<DeliveryJob> jobs, size_t reserved, size_t queued) = 0;
};

enum class DeliveryOutcome {
  delivered,  // 2xx
  deferred,   // retried at next_attempt_at_ms
  dead,       // 406/410, or out of retries: kept for its retention, replayable
  orphaned,   // its endpoint is not configured: held (not due) until requeue_orphaned names it
};
// The state a delivery row takes for the outcome ("delivered", "deferred", "dead", "orphaned").
const char* to_string(DeliveryOutcome outcome);

// Outbound (the send API, ARCHITECTURE.md "Outbound path"): one message row with its built bytes,
// one recipient row per envelope recipient: queued → in_flight → sent | deferred | failed.
struct OutboundMessage {
  std::string id;  // UUIDv7 chosen by the caller (the 202 names it)
  int64_t created_at_ms = 0;
  std::string mail_from;             // "" for the null reverse-path
  std::vector<std::string> rcpt_to;  // to + cc + bcc, each once
  std::string message_id;            // the Message-ID header's value without < >; "" when none
  std::string data;                  // the message bytes to send (CRLF, not dot-stuffed)
  std::string metadata_json;         // the request's metadata object as JSON; "" = none
  std::string api_key;               // the sending API key's name (delivery events); "" = none
  // Idempotency (CONTRACTS.md 2): "" = none. The key is already scoped by the caller (api key
  // name + ":" + header value). A key seen within `idempotency_ttl` before created_at_ms with
  // the same request_hash replays that message's response_json; with another hash, conflict.
  std::string idempotency_key;
  std::string request_hash;   // hex SHA-256 of the request body
  std::string response_json;  // the 202 body, kept for replays
};

struct OutboundEnqueued {
  Status status = Status::ok;  // ok also for a replay or a conflict (nothing written then)
  bool replay = false;         // the key was seen with the same hash: response_json is the first
  bool conflict = false;       // the key was seen with another hash
  std::string response_json;   // replay: the first response; else the one passed in
};

// One entry of a recipient's status history (GET /v1/messages/{id} `history`): every attempt's
// outcome (finish_outbound) and every DSN recorded for it (record_bounce), oldest first. A late
// bounce after `sent` is the usual case: the history keeps both.
struct RecipientHistory {
  int64_t at_ms = 0;
  // sent | deferred | failed (an attempt); bounced | delayed | delivered | relayed | expanded
  // (a DSN's Action, RFC 3464 2.3.3; `failed` there is recorded as bounced)
  std::string state;
  int code = 0;            // the reply code (an attempt's, or a DSN's Diagnostic-Code); 0 = none
  std::string enhanced;    // "5.1.1"; "" = none
  std::string text;        // reply text, or the DSN's Diagnostic-Code ("smtp; 550 ...")
  std::string inbound_id;  // a DSN: the stored DSN's inbound id; "" for attempts
};

struct OutboundRecipientRow {
  std::string rcpt;
  // queued | in_flight | sent | deferred | failed | suppressed (on the suppression list at the
  // enqueue: never claimed, final like failed) | bounced (a DSN with Action: failed arrived for
  // it, usually after sent: final like failed; last_* then hold the DSN's code, status and
  // Diagnostic-Code)
  std::string state;
  int attempts = 0;
  int64_t next_attempt_at_ms = 0;
  int64_t updated_at_ms = 0;
  int last_code = 0;          // the upstream's last reply code for it; 0 = none yet (or none came)
  std::string last_enhanced;  // "2.0.0"; "" when the reply had none
  std::string last_text;      // reply text, or a local reason ("connection refused")
  std::vector<RecipientHistory> history;  // find_outbound fills it; oldest first
};

struct StoredOutbound {
  std::string id;
  int64_t created_at_ms = 0;
  std::string mail_from;
  std::string message_id;
  uint64_t size = 0;
  std::string metadata_json;                     // "" = none
  std::vector<OutboundRecipientRow> recipients;  // in envelope order
};

// A message with its due recipients, handed to the relay; those recipients are in_flight now,
// attempts already counting this attempt.
struct OutboundJob {
  std::string id;
  int64_t created_at_ms = 0;
  std::string mail_from;
  std::string data;
  std::vector<std::string> rcpt_to;  // only the claimed (due) recipients
  std::vector<int> attempts;         // per rcpt_to entry
  // Per rcpt_to entry: the recipient's position in the message (0-based, envelope order; the
  // VERP return path names it, README "Bounces").
  std::vector<int> positions;
};

enum class RecipientOutcome { sent, deferred, failed };
// The state a recipient row takes for the outcome ("sent", "deferred", "failed").
const char* to_string(RecipientOutcome outcome);

struct RecipientResult {
  std::string rcpt;
  RecipientOutcome outcome = RecipientOutcome::deferred;
  int64_t next_attempt_at_ms = 0;  // deferred: when to try again
  int code = 0;                    // the upstream reply (0 = none: connection failure)
  std::string enhanced;
  std::string text;
};

// A DSN (RFC 3464) for one outbound recipient, as the bounce consumer read it
// (delivery/bounces.h): the return path it was sent to names the message and the position.
struct Bounce {
  std::string message_id;  // the outbound message's id
  int position = 0;        // the recipient's position in it
  int64_t at_ms = 0;       // when the DSN arrived
  std::string inbound_id;  // the stored DSN (GET /v1/inbound/{id})
  std::string action;      // RFC 3464 2.3.3, lower-case: failed | delayed | delivered | relayed |
                           // expanded
  std::string status;      // 2.3.4 "5.1.1"
  int code = 0;            // the reply code of the Diagnostic-Code when it is "smtp; NNN ..."
  std::string diagnostic;  // 2.3.6 "smtp; 550 5.1.1 <x>: user unknown"; "" = none
  std::string remote_mta;  // 2.3.5 "dns; mx.example.net"; "" = none
  std::string reporting_mta;    // 2.2.2; "" = none
  std::string final_recipient;  // 2.3.2 the address (type dropped); "" = none
};

struct BounceRecorded {
  Status status = Status::ok;
  bool matched = false;     // the message exists and has a recipient at `position` (else nothing
                            // is written)
  std::string rcpt;         // that recipient
  bool suppressed = false;  // added to the suppression list (Action failed with a 5.x.x Status)
};

// The suppression list (issue 14, README "Suppressions"): addresses a send request does not
// relay. The address is stored lower-cased (ASCII, the whole address) so that the match is
// case-insensitive; the enqueue compares each recipient with lower(rcpt) in its own transaction.
struct Suppression {
  std::string address;  // lower-cased by the store on add
  std::string reason;   // "bounce" | "manual" | "api"
  int64_t created_at_ms = 0;
  // reason bounce: what the DSN said (RFC 3464 2.3.4 Status, 2.3.6 Diagnostic-Code) and the
  // outbound message and recipient it answered; "" when unknown or not a bounce.
  std::string status;
  std::string diagnostic;
  std::string message_id;
  std::string rcpt;
};

// An address lower-cased as the suppression list keys it (ASCII letters only: the same rule on
// both backends, whose lower() would otherwise differ past ASCII).
std::string suppression_key(std::string_view address);

// Delivery events (issue 14, README "Delivery events"): which events endpoint (by name) gets
// which event types ("message.sent", ...). The store writes one row per (event, endpoint whose
// types include it) in the transaction that records what the event reports.
struct EventSubscription {
  std::string endpoint;
  std::vector<std::string> types;
};

// An event row: its id is the event's id and its webhook-id; `payload` the JSON POSTed.
struct EventRow {
  std::string id;
  int64_t seq = 0;  // commit order; one message's events go to one endpoint in this order
  std::string endpoint;
  std::string type;
  std::string message_id;  // the outbound message's id
  std::string rcpt;        // "" for message.queued (one event per message)
  std::string payload;
  std::string state;  // queued | in_flight | delivered | deferred | dead (like deliveries)
  int attempts = 0;   // a claimed row counts this attempt
  int64_t next_attempt_at_ms = 0;
  int64_t created_at_ms = 0;
  std::string last_error;
};

struct Options {
  std::string path = "./var/smtp-bridge.db";  // parent folders are created
  uint64_t max_size = 0;                      // bytes; 0 = unlimited
  std::chrono::milliseconds commit_delay{0};  // wait this long to gather a bigger group
  size_t max_batch = 512;                     // messages in one transaction at most
  std::chrono::hours idempotency_ttl{24};     // CONTRACTS.md 2
  // Called on the writer thread after each group commit: its duration and message count.
  std::function<void(double seconds, size_t messages, Status status)> on_commit;
  // How long a claim holds its rows (store.h requeue_expired): longer than a worker may take
  // with one (waiting for a worker, the render, the POST and its timeout).
  std::chrono::milliseconds lease{std::chrono::minutes(5)};
  // The same for outbound recipients: one SMTP transaction with all its timeouts.
  std::chrono::milliseconds outbound_lease{std::chrono::hours(2)};
  // Maps a Delivery::endpoint to the name and origin stored (the SMTP side gives URLs; the app
  // maps them with the configuration). Also used by the migration to schema 8 for the rows that
  // named their endpoint by URL. nullptr: the name is the string given (the migration derives it:
  // common::default_endpoint_name), the origin that of the string when it is a URL.
  std::function<EndpointRef(const std::string& endpoint)> resolve_endpoint;
  // This process's lease owner; "" = a new UUIDv7 at open.
  std::string owner;
  // Called on the writer thread when a write nobody waits for failed and will be retried
  // (`what`: "finish_delivery", "finish_outbound"), and again with Status::ok once it succeeded.
  std::function<void(const std::string& what, Status status, size_t rows)> on_write_failure;
  // Several replicas (PostgreSQL): called on a store thread when another process committed rows
  // that are due now (LISTEN/NOTIFY), `what` = "inbound" or "outbound", so that idle dispatchers
  // and relays claim at once instead of at their next poll. Never called by the SQLite store.
  std::function<void(const std::string& what)> on_remote_rows;
  // Delivery events: none = no event rows are written.
  std::vector<EventSubscription> event_endpoints;
};

// The PostgreSQL backend's own settings (config `store.postgres`, README "Scaling out").
struct PostgresOptions {
  // A libpq connection string or URI (keywords such as sslmode=verify-full and sslrootcert are
  // libpq's own). Never logged: it may carry a password.
  std::string dsn;
  // "" = none; else the password is read from this file at every connect and reconnect (a rotated
  // Kubernetes Secret is picked up without a restart). Overrides a password in the DSN.
  std::string password_file;
  size_t pool_size = 4;  // connections for readers and claims, besides the writer's and LISTEN's
  std::chrono::milliseconds statement_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
};

class Store {
 public:
  using Done = std::function<void(Status)>;
  virtual ~Store() = default;

  // Queues the message for the writer thread, which commits it with whatever else is waiting
  // (group commit: one transaction, one fsync) and then calls `done` on the writer thread.
  // `done` is always called exactly once, also when the store is closed.
  virtual void enqueue_inbound(InboundMessage message, Done done) = 0;
  // Blocking form for tools and tests.
  Status enqueue_inbound_wait(InboundMessage message);

  virtual std::optional<StoredInbound> find_inbound(const std::string& id) = 0;
  virtual uint64_t count_inbound() = 0;
  // Newest first (ids are UUIDv7, so id order is arrival order), at most query.limit messages,
  // read in one snapshot on the readers' connection.
  virtual std::vector<InboundSummary> list_inbound(const InboundQuery& query) = 0;
  // Puts every delivery of the message back to queued, due at now_ms, attempts and last_error
  // kept (dead letters included), in one committed transaction on the writer.
  virtual Redelivery redeliver_inbound(const std::string& id, int64_t now_ms) = 0;
  // Deliveries (ARCHITECTURE.md states). Claims up to `limit` rows that are queued, or deferred
  // with next_attempt_at <= now_ms, oldest first: each becomes in_flight with attempts + 1 in one
  // committed transaction, and is returned with its message.
  virtual std::vector<DeliveryJob> claim_deliveries(size_t limit, int64_t now_ms) = 0;
  // Sets (or with nullptr removes) the hot path's consumer. Returns after any reserve/take pair
  // in progress has ended, so a removed consumer may be destroyed at once.
  virtual void set_delivery_consumer(DeliveryConsumer* consumer) = 0;
  // Records an attempt's outcome for an in_flight row. Committed, and durable with the next
  // fsynced commit (claims likewise): a crash may lose it, which repeats that delivery (at
  // least once, CONTRACTS.md) but loses nothing. `next_attempt_at_ms` is used for deferred;
  // `last_error` is a short text ("HTTP 500", "timeout", ...), "" when delivered.
  // `attempt` is the claim's token (DeliveryRow::attempts of the job; 0 = any claim): only the
  // claim this store holds (its owner) with that attempt is finished, so a finish that comes
  // after its lease expired and the row was claimed again changes nothing. A finish that cannot
  // be committed (disk full, store.max_size) is kept and retried about once a second, reported
  // through Options::on_write_failure, and the store is not writable() until it is committed.
  // `origin` (when not "") replaces the row's origin: where this attempt went.
  // `rendered` = false when the payload could not be rendered: render_attempts is kept (else
  // set back to 0).
  virtual void finish_delivery(const std::string& delivery_id, DeliveryOutcome outcome,
                               int64_t next_attempt_at_ms, const std::string& last_error,
                               int attempt = 0, bool rendered = true,
                               const std::string& origin = {}) = 0;
  // finish_delivery without the wait: returns at once, and the outcome is committed before any
  // claim asked for after this call (the dispatcher's workers go on to their next job meanwhile).
  virtual void finish_delivery_later(const std::string& delivery_id, DeliveryOutcome outcome,
                                     int64_t next_attempt_at_ms, const std::string& last_error,
                                     int attempt = 0, bool rendered = true,
                                     const std::string& origin = {}) {
    finish_delivery(delivery_id, outcome, next_attempt_at_ms, last_error, attempt, rendered,
                    origin);
  }
  // Adds delivery rows to a stored message, queued and due at now_ms (endpoints resolved as
  // enqueue_inbound resolves them), in one durably committed transaction: the bounce consumer
  // routes a DSN that matched no message like any message (README "Bounces").
  virtual Status route_inbound(const std::string& message_id, std::vector<Delivery> deliveries,
                               int64_t now_ms) = 0;
  // Orphaned rows whose endpoint is among `endpoints` (names) go back to queued, due at now_ms,
  // attempts kept; returns how many. The dispatcher calls it at start with the names configured.
  virtual uint64_t requeue_orphaned(const std::vector<std::string>& endpoints, int64_t now_ms) = 0;
  // Leases (ARCHITECTURE.md): every claim (claim_deliveries, the hot path, claim_outbound) holds
  // its rows until now + Options::lease (outbound_lease). Puts every in_flight row whose lease
  // ended before now_ms back to queued (inbound deliveries and outbound recipients alike, any
  // owner's), attempts kept; returns how many. The dispatcher runs it periodically, so that a row
  // whose worker or finish was lost comes back while the process runs, not only at start-up.
  virtual uint64_t requeue_expired(int64_t now_ms) = 0;
  // Retention (ARCHITECTURE.md): deletes each message that has deliveries, all of them finished,
  // every delivered one last updated before delivered_before_ms and every dead one before
  // dead_before_ms (its rows go with it). Messages without deliveries (no endpoints: kept for
  // browsing) are never pruned here. Outbound messages likewise once every recipient is sent
  // (like delivered) or failed, bounced or suppressed (like dead), with their status history.
  // Returns the number of messages deleted.
  // PostgreSQL: one replica at a time (a transaction-level advisory lock per batch); a replica
  // that finds another pruning returns 0 at once and leaves the work to it.
  virtual uint64_t prune(int64_t delivered_before_ms, int64_t dead_before_ms) = 0;
  // Rows per state ("queued", "in_flight", "deferred", "delivered", "dead") and the oldest
  // received_at of a queued or deferred row (0 when none), for metrics. PostgreSQL: only the
  // replica whose LISTEN session holds the housekeeping advisory lock runs the queries; the
  // others return every state at 0 and oldest 0 (a sum or max over replicas is the queue), and
  // one of them takes the lock over within seconds when that replica's session ends.
  struct QueueStats {
    std::vector<std::pair<std::string, uint64_t>> by_state;
    int64_t oldest_pending_ms = 0;
  };
  virtual QueueStats queue_stats() = 0;

  // Outbound. Queued like inbound messages and committed in the same group commits; `done` is
  // called once on the writer thread. The idempotency check and the insert are one transaction.
  virtual void enqueue_outbound(OutboundMessage message,
                                std::function<void(OutboundEnqueued)> done) = 0;
  OutboundEnqueued enqueue_outbound_wait(OutboundMessage message);  // blocking form
  // A batch (POST /v1/messages/batch): every message committed in ONE transaction of one group
  // commit, or none (a failed commit refuses them all, each then keeps no row). Only the first
  // message may carry an idempotency key; it stands for the whole batch: a replay or a conflict
  // writes none of them, and `done` gets the first message's result (its response_json is the
  // batch's answer). `messages` must not be empty. `done` is called once on the writer thread.
  virtual void enqueue_outbound_batch(std::vector<OutboundMessage> messages,
                                      std::function<void(OutboundEnqueued)> done) = 0;
  OutboundEnqueued enqueue_outbound_batch_wait(std::vector<OutboundMessage> messages);
  virtual std::optional<StoredOutbound> find_outbound(const std::string& id) = 0;
  // Up to `limit` messages that have recipients queued, or deferred with next_attempt_at <=
  // now_ms, oldest first; their due recipients become in_flight (attempts + 1) in one committed
  // transaction.
  virtual std::vector<OutboundJob> claim_outbound(size_t limit, int64_t now_ms) = 0;
  // Records the attempt's result for in_flight recipients of one message (durably; returns
  // once committed). Recipients not listed stay in_flight.
  virtual void finish_outbound(const std::string& id,
                               const std::vector<RecipientResult>& results) = 0;
  // Recipient rows per state (queued, in_flight, deferred, sent, failed, bounced, suppressed:
  // each listed, 0 included), and the oldest created_at of a queued or deferred one (metrics).
  // PostgreSQL: sampled by the housekeeping replica only, like queue_stats.
  virtual QueueStats outbound_stats() = 0;

  // Suppressions (struct Suppression). add: upserts the address (reason, details and created_at
  // replaced: created_at is when it was last added), durably committed; `created` = it was not
  // there before. Status::ok or why not. remove: true when the address was there (and is gone),
  // false when not; nullopt when the write failed. list: addresses after `after` ("" = from the
  // first) in byte order of the lower-cased address, at most `limit`. suppressed: which of
  // `addresses` are on the list (as given, in their order), for the API's 202; the enqueue decides
  // again in its transaction.
  virtual Status add_suppression(const Suppression& suppression, bool& created) = 0;
  virtual std::optional<bool> remove_suppression(const std::string& address) = 0;
  virtual std::vector<Suppression> list_suppressions(const std::string& after, size_t limit) = 0;
  virtual std::vector<std::string> suppressed(const std::vector<std::string>& addresses) = 0;

  // Delivery events (Options::event_endpoints). Claims up to `limit` due rows (queued, or
  // deferred with next_attempt_at <= now_ms) in seq order, each only when every earlier row of
  // its (endpoint, message) is delivered or dead: one message's events reach an endpoint in
  // order. Claimed rows become in_flight (attempts + 1) under a lease (Options::lease);
  // requeue_expired and prune (delivered/dead like deliveries) cover them too.
  virtual std::vector<EventRow> claim_events(size_t /*limit*/, int64_t /*now_ms*/) { return {}; }
  // Records an attempt's outcome (delivered, deferred, dead) for the claim `attempt` of the row.
  virtual void finish_event(const std::string& /*id*/, DeliveryOutcome /*outcome*/,
                            int64_t /*next_attempt_at_ms*/, const std::string& /*last_error*/,
                            int /*attempt*/) {}
  // Bounces (README "Bounces"): in one committed transaction, for the recipient at
  // (message_id, position): appends a history entry (state bounced for Action failed, else the
  // action); Action failed also sets the row to bounced (last_code/enhanced/text from the DSN,
  // whatever its state was, in_flight excepted: a row in flight keeps its state and only the
  // history and the rest below are written) and writes message.bounced event rows for the
  // subscribed endpoints; Action failed with a Status 5.x.x also upserts the suppression
  // (reason "bounce", status, diagnostic, message_id, rcpt). matched = false writes nothing.
  // Durable once it returns (like add_suppression); status says whether it was written (matched
  // and rcpt tell what was found even when the write failed). The history entry's time and the
  // suppression's created_at are bounce.at_ms (0 = now).
  virtual BounceRecorded record_bounce(const Bounce& /*bounce*/) { return {}; }
  // Replay (POST /v1/messages/{id}/events/redeliver): every event row of the outbound message
  // goes back to queued, due at now_ms, attempts kept (dead letters and delivered ones included;
  // a row in flight is left to finish), in one committed transaction. found = the outbound
  // message exists; deliveries = its event rows; requeued = the rows put back.
  virtual Redelivery redeliver_events(const std::string& /*message_id*/, int64_t /*now_ms*/) {
    return {};
  }
  // One message's event rows in seq order (tests, tools).
  virtual std::vector<EventRow> find_events(const std::string& /*message_id*/) { return {}; }

  // True while the last write succeeded and the writer runs (for /readyz). After a failed write
  // (disk full, store.max_size, an I/O error) the check itself tries again, at most once a second,
  // so an unready pod that gets no traffic still becomes ready once there is room.
  virtual bool writable() = 0;
  // False when the backend cannot be read now (the database server is away): a read that found
  // nothing may then mean "unknown", not "none", and the API answers 503 instead of 404 or an
  // empty page. Asked only after such a read (it may cost a round trip). SQLite: always true.
  virtual bool readable() { return true; }
  // Bytes the database files take (for metrics); PostgreSQL: the message bytes held, the measure
  // store.max_size limits.
  virtual uint64_t size_bytes() = 0;
  // Commits everything already queued, then refuses new writes with Status::closed.
  virtual void close() = 0;
};

// Opens (creating if needed) the SQLite store: WAL, synchronous=FULL, schema migrated, deliveries
// left in_flight by a dead process put back to queued. nullptr and `error` set on failure.
std::unique_ptr<Store> open_sqlite(const Options& options, std::string& error);

// Opens the PostgreSQL store (src/store/postgres/): connects, migrates the schema under an
// advisory lock (a schema newer than this binary is refused), and starts the writer. Options::path
// is not used. nullptr and `error` set (never containing the password) on failure.
// Differences from SQLite, where one process owns the database: at open, only the in-flight rows
// of owners whose process is gone (no live session holds their owner lock) are queued again; a
// live replica's rows come back by requeue_expired once their lease ends. Options::max_size and
// size_bytes() count the message bytes held (both directions, plus 512 a message for its rows;
// sampled at most every 250 ms), not the files, whose pruned space PostgreSQL reuses only after
// VACUUM (the database's own size is PostgreSQL's to report: pg_database_size). Claims, outcomes
// and requeues are durable (synchronous_commit on) like group commits: a server failover loses
// none of them. Reads (find_inbound, list_inbound...) answer "none" while the server is away.
// Text columns (mail_from, envelope, endpoint...) must be valid UTF-8 without NUL (the database's
// encoding): the message bytes are bytea and stored exactly.
std::unique_ptr<Store> open_postgres(const Options& options, const PostgresOptions& postgres,
                                     std::string& error);
// Checks the DSN's syntax with libpq's parser, without connecting: false and `error` (an
// unknown keyword, or a generic reason that never quotes the string) when libpq refuses it.
bool validate_postgres_dsn(const std::string& dsn, std::string& error);
// Connects once and reads the server's version and the schema's (for --check-connection):
// true and `detail` = what was found, or false and `detail` = why not.
bool check_postgres(const PostgresOptions& postgres, std::string& detail);

}  // namespace store
