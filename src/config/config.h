// The typed configuration of smtp-bridge (CONTRACTS.md 4). Every field has a safe default, so a
// default-constructed Config is the embedded default the bridge runs on without a file.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http_limits.h"

namespace config {

using Duration = std::chrono::milliseconds;
using namespace std::chrono_literals;
inline constexpr uint64_t kMiB = uint64_t(1) << 20;

struct TlsFiles {
  std::string cert_file;  // PEM chain; empty = no TLS (no STARTTLS, no tls_listen)
  std::string key_file;   // PEM private key
  bool enabled() const { return !cert_file.empty(); }
};

struct SmtpUser {
  std::string username;
  std::string password;  // resolved from password / password_file / password_env; never logged
};

struct SmtpAuth {
  std::vector<SmtpUser> users;   // AUTH is advertised only when there are users
  bool required = false;         // MAIL before AUTH answers 530 5.7.0
  bool allow_plaintext = false;  // advertise/accept AUTH without TLS (SMTP.md)
  // At most max_failures failed AUTH per client address (IPv6: per /64) within failure_window,
  // across connections; then 454 4.7.0 to every AUTH from it until the window ends. 0 = off.
  unsigned max_failures = 10;
  Duration failure_window = 10min;
};

struct SmtpLimits {
  uint64_t max_message_size = 25 * kMiB;     // SIZE; 552 5.3.4
  unsigned max_recipients = 100;             // 452 4.5.3 beyond
  unsigned max_connections = 1000;           // 421 4.7.0 beyond
  unsigned max_connections_per_ip = 50;      // 421 4.7.0 beyond
  Duration command_timeout = 5min;           // RFC 5321 4.5.3.2.7; 421 4.4.2
  Duration data_timeout = 3min;              // RFC 5321 4.5.3.2.5 (data block); 421 4.4.2
  unsigned max_errors = 10;                  // bad commands before 421 4.7.0
  unsigned max_command_line = 512;           // bytes incl. CRLF, RFC 5321 4.5.3.1.4
  unsigned max_line_length = 1000;           // DATA text line incl. CRLF, 4.5.3.1.6
  uint64_t max_buffered_bytes = 256 * kMiB;  // across sessions; 452 4.3.1 beyond
  // The most of max_buffered_bytes the sessions of one client address hold together; 452 4.3.1
  // to that client beyond it, while others still get 250. Default (also when only
  // max_buffered_bytes is set): a quarter of max_buffered_bytes, at least max_message_size.
  uint64_t max_buffered_bytes_per_ip = 64 * kMiB;
  // DATA/BDAT must keep up with min_data_rate bytes/s, falling behind it by at most
  // data_timeout (a burst earns no more than that), and end within data_transaction_timeout
  // (DATA's 354, or the first BDAT, to the end of data): else 421 4.4.2 and close, so that a
  // trickling client cannot hold the buffer budget. 0 = no minimum rate.
  uint64_t min_data_rate = 1024;
  Duration data_transaction_timeout = 10min;
};

enum class BareLf { reject, accept };

struct Smtp {
  std::vector<std::string> listen{"0.0.0.0:2525"};  // plain + STARTTLS, "host:port"
  std::vector<std::string> tls_listen;              // implicit TLS (RFC 8314)
  std::string hostname;  // greeting and Received; empty in the file = the host name
  TlsFiles tls;
  bool require_tls = false;  // 530 5.7.0 to MAIL etc. before STARTTLS
  SmtpAuth auth;
  SmtpLimits limits;
  BareLf bare_lf = BareLf::reject;
  Duration greet_delay = 0ms;  // > 0: early talkers get 421
  // After SIGTERM: how long transactions in progress may take to finish before their
  // connections are closed (unacknowledged, so the clients retry). Below Kubernetes' default
  // terminationGracePeriodSeconds (30 s) with the 5 s force-close after it.
  Duration drain_timeout = 20s;
  unsigned io_threads = 0;  // 0 = one per core
};

// endpoints[].format (issue 15, README "Payload formats"): what is POSTed. bridge.v1 is signed
// per Standard Webhooks; postmark and mailgun are those providers' inbound shapes, signed their
// way.
enum class PayloadFormat { bridge_v1, postmark, mailgun };

struct Endpoint {
  std::string url;  // without userinfo (a postmark URL's user:password@ is moved to basic_auth)
  std::vector<std::string> secrets;  // whsec_...; several while rotating; empty = unsigned
  Duration timeout = 30s;
  std::map<std::string, std::string> headers;
  // PEM bundle trusted for https:// instead of the system store; "" = the system store. The
  // default initializer keeps older 4-field aggregate initializations warning-free.
  std::string ca_file = {};
  // What deliveries are stored under (issue 11): the URL, secrets, headers and timeout may change
  // under the same name and the backlog follows. Default: common::default_endpoint_name(url).
  std::string name = {};
  PayloadFormat format = PayloadFormat::bridge_v1;
  // A document bigger than this carries its largest attachments as links instead of their
  // content (api.links must be set); 0 = no limit.
  uint64_t max_payload_bytes = 0;
  std::string basic_auth = {};   // postmark: "user:password" (percent-decoded); never logged
  std::string signing_key = {};  // mailgun: the HTTP webhook signing key of its `signature`

  // The name deliveries are stored under: `name`, or the URL when built in code without one.
  const std::string& key() const { return name.empty() ? url : name; }
  bool operator==(const Endpoint&) const = default;
};

// What an inbound message must show to be accepted (issue 13, README "Mail authentication"),
// all off by default. Refusals come at the end of DATA: 550 5.7.1, or 451 4.7.0 / 4.7.1.
struct Policy {
  bool reject_dmarc = false;     // DMARC fail whose disposition is reject
  bool reject_spf_fail = false;  // SPF fail of the MAIL FROM identity
  // From domains (and their subdomains) whose mail needs a passing DKIM signature of the
  // same domain (d= the From domain or a parent of it that is listed).
  std::vector<std::string> require_dkim;
  bool defer_temperror = false;  // a temperror where a rule above needs a verdict: 451 4.7.0
  bool reject_spam = false;      // rspamd's action reject
  bool operator==(const Policy&) const = default;
};

// routes[].policy: each key set overrides the global `policy` for that route's recipients.
struct PolicyOverride {
  std::optional<bool> reject_dmarc, reject_spf_fail, defer_temperror, reject_spam;
  std::optional<std::vector<std::string>> require_dkim;
  bool operator==(const PolicyOverride&) const = default;
};

// routes[].attachments: attachments' content in the document (base64), or a signed link to
// GET /v1/inbound/{id}/parts/{part} for those above attachment_url_threshold.
enum class AttachmentMode { inline_content, url };

struct Route {
  std::vector<std::string> match;   // "user@domain", "*@domain", or "*" (catch-all)
  std::vector<Endpoint> endpoints;  // may be empty: messages are kept and browsable
  bool include_raw = false;
  uint64_t max_attachment_bytes = 10 * kMiB;
  PolicyOverride policy = {};
  AttachmentMode attachments = AttachmentMode::inline_content;
  uint64_t attachment_url_threshold = 0;  // url mode: attachments larger than this go by link
  bool extract_reply = true;              // message.reply (the new text without its history)
};

// dns: the resolver of mail authentication.
struct Dns {
  std::vector<std::string> servers;  // "ip" / "ip:port" / "[v6]:port"; empty = /etc/resolv.conf
  Duration budget = 5s;              // all of one message's lookups together
};

// authentication: SPF, DKIM and DMARC verdicts for every inbound message (off by default:
// behind another MTA the client address is that MTA's, and the checks cost DNS lookups).
struct Authentication {
  bool enabled = false;
  unsigned workers = 16;  // threads running the checks (they mostly wait on DNS)
};

// spam.rspamd: scoring by a running rspamd (its /checkv2), before the 250.
struct Rspamd {
  std::string url;  // "" = off; "http://127.0.0.1:11333"
  Duration timeout = 5s;
  bool fail_closed = false;  // unreachable or slow: accept (counted), or 451 4.7.1
};

struct Retry {
  Duration initial;
  Duration max_interval;
  Duration max_age;
};

struct Delivery {
  unsigned workers = 16;
  Retry retry{10s, 1h, 72h};
  // How long a claimed row is held (ARCHITECTURE.md "Leases"); after it, the row is queued
  // again. More than twice the longest endpoint timeout.
  Duration lease = 5min;
  // Poison messages: after this many renders of a delivery that failed or ended without an
  // outcome (the process crashed, the lease ended), the delivery is dead instead of tried again.
  unsigned max_render_attempts = 3;
};

// store.postgres (README "Scaling out"): used when store.backend is postgres.
struct Postgres {
  std::string dsn;            // libpq conninfo or URI, from dsn / dsn_file / dsn_env; never logged
  std::string password_file;  // "" = none; the store reads it again at every (re)connect
  unsigned pool_size = 4;  // connections for claims and readers, besides the writer's and LISTEN's
  Duration statement_timeout = 30s;
  Duration connect_timeout = 10s;
};

// PostgreSQL's default store.commit_delay: the replicas share one server, whose CPU pays per
// transaction; a short wait makes fewer, larger ones (bench/replicas, three replicas on two
// cores: 0.19 instead of 0.55 transactions per message, 12% more messages per second).
constexpr Duration kPostgresCommitDelay = 2ms;

struct Store {
  std::string backend = "sqlite";  // sqlite (one replica) | postgres (several)
  std::string path = "./var/smtp-bridge.db";
  uint64_t max_size = 0;  // bytes the database may grow to; 0 = unlimited. Full → 451
  Duration retention_delivered = 24h;
  Duration retention_dead = 7 * 24h;
  // Extra wait to gather a larger group commit. Unset: 0 for SQLite, kPostgresCommitDelay for
  // PostgreSQL (load_store).
  Duration commit_delay = 0ms;
  Postgres postgres;
};

// api.keys[].rate_limit (README "Scoped keys and rate limits"): token buckets per key, in memory
// per process. 0 = unlimited.
struct ApiRateLimit {
  unsigned requests_per_second = 0;  // the bucket's refill rate
  unsigned burst = 0;                // the bucket's size; the loader sets it to the rate when unset
  unsigned recipients_per_hour = 0;  // envelope recipients (to + cc + bcc) of send requests
  bool limited() const { return requests_per_second > 0 || recipients_per_hour > 0; }
  bool operator==(const ApiRateLimit&) const = default;
};

// The scopes api.keys[].scopes may name; each route needs one (src/api/server.cpp kAccess).
inline constexpr std::string_view kApiScopes[] = {"send", "messages:read", "inbound:read",
                                                  "inbound:write", "suppressions"};

struct ApiKey {
  std::string name;
  std::string key;  // resolved from key / key_file / key_env; never logged
  // nullopt: every route (keys written before scopes existed keep their access).
  std::optional<std::vector<std::string>> scopes = std::nullopt;
  ApiRateLimit rate_limit = {};
};

// api.limits and admin.limits (common/http_limits.h: obs enforces them without this header).
using HttpLimits = common::HttpLimits;

// api.links (issue 15): signed links to inbound parts and raw messages, fetched without an API
// key. The first secret signs, every one verifies (rotation).
struct Links {
  std::string base_url;  // how receivers reach this API, "https://bridge.example.com"; "" = off
  std::vector<std::string> secrets;
  Duration ttl = 24h;  // a link's life from the render that made it
};

struct Api {
  std::string listen = "0.0.0.0:8080";
  std::vector<ApiKey> keys;
  HttpLimits limits;
  Links links;
};

enum class UpstreamTls { starttls, implicit, none };

// RFC 5321 4.5.3.2 client timeouts (SMTP.md "Outbound client").
struct RelayTimeouts {
  Duration connect = 30s;
  Duration greeting = 5min;
  Duration command = 5min;  // EHLO, STARTTLS, AUTH, MAIL, RCPT, RSET, QUIT
  Duration data_init = 2min;
  Duration data_block = 3min;
  Duration data_end = 10min;
};

// relay.dkim (README "DKIM signing"): one signing key. Two keys for one domain, one RSA and one
// Ed25519, sign each message twice (RFC 8463 4).
struct DkimKey {
  std::string domain;     // d=, lower case; signs mail whose RFC5322.From domain is exactly this
  std::string selector;   // s=: the key is published at <selector>._domainkey.<domain>
  std::string key_file;   // PEM private key, read again when it changes
  std::string algorithm;  // from the key file at load: "rsa-sha256" | "ed25519-sha256"
  bool operator==(const DkimKey&) const = default;
};

// relay.rate_limit: the pace of messages to the upstream, one token bucket shared by all the
// relay's connections, so that a provider's own limit is respected without bursts of 421: at
// most burst + messages_per_second x t messages (SMTP transactions) in any t seconds.
struct RelayRateLimit {
  unsigned messages_per_second = 0;  // 0 = unlimited (the key absent)
  unsigned burst = 1;                // tokens held at most (sent back to back after a pause)
};

struct Relay {
  std::string host;  // empty = relay disabled
  unsigned port = 587;
  UpstreamTls tls = UpstreamTls::starttls;
  bool verify = true;
  std::string ca_file;
  std::string mechanism = "auto";
  std::string username;
  std::string password;
  // relay.auth.password_file as given ("" when the password came otherwise): read again before
  // each new upstream session, so that a rotated secret or an XOAUTH2 token is picked up.
  std::string password_file;
  std::string hostname;
  unsigned connections = 4;  // upstream sessions at most
  RelayRateLimit rate_limit;
  Retry retry{30s, 1h, 72h};
  RelayTimeouts timeouts;
  std::vector<DkimKey> dkim;  // empty = outbound mail is sent unsigned
  // Bounces (issue 14, README "Bounces"): "" = off (MAIL FROM is the send request's `from`).
  // Else each recipient is sent in its own transaction with a VERP return path on this domain
  // (common/return_path.h), signed with the first of return_path_secrets; the SMTP listener
  // accepts any recipient on it and hands DSNs there to the bounce consumer.
  std::string return_path_domain;
  std::vector<std::string> return_path_secrets;
};

struct Admin {
  std::string listen = "0.0.0.0:8081";
  HttpLimits limits = common::kAdminHttpLimits;  // GET only: a body is never needed
};

struct Log {
  std::string level = "info";  // debug | info | warn | error
};

// The one process-wide memory budget (common::MemoryBudget) that SMTP message buffers, API
// request bodies and webhook renders draw from.
struct Memory {
  uint64_t budget = 0;  // bytes; 0 = auto: half of the cgroup's memory.max, else 256 MiB
};

// Delivery events (issue 14, README "Delivery events"): what became of each sent message, POSTed
// to these endpoints as Standard Webhooks like inbound deliveries.
inline constexpr std::array<std::string_view, 5> kEventTypes = {
    "message.queued", "message.sent", "message.deferred", "message.failed", "message.bounced"};

// An events endpoint: a webhook endpoint (url, name, secrets, timeout, headers, ca_file; the
// payload format is always the event's JSON) and the event types it receives.
struct EventEndpoint {
  Endpoint endpoint;
  std::vector<std::string> types{kEventTypes.begin(), kEventTypes.end()};  // default: all
  bool operator==(const EventEndpoint&) const = default;
};

struct Events {
  std::vector<EventEndpoint> endpoints;
};

struct Config {
  Smtp smtp;
  // Absent `routes` key = one catch-all route without endpoints (the embedded default).
  // A present but empty list accepts no recipient at all.
  std::vector<Route> routes{Route{{"*"}, {}, false, 10 * kMiB}};
  Delivery delivery;
  Store store;
  Api api;
  Relay relay;
  Admin admin;
  Log log;
  Memory memory;
  Dns dns;
  Authentication authentication;
  Rspamd rspamd;  // spam.rspamd
  Policy policy;
  Events events;
};

// One problem found while loading: the dotted key ("smtp.limits.max_recipients"), the 1-based
// line in the YAML file (0 when not from a file), and what is wrong.
struct Error {
  std::string key;
  int line = 0;
  std::string message;
  std::string to_string() const;  // "line 12: smtp.limits.max_recipients: must be ..."
};

struct LoadResult {
  std::optional<Config> config;  // set when errors is empty
  std::vector<Error> errors;
};

// Parses YAML text. Unknown keys, wrong types, bad durations/sizes, unreadable secret files and
// unset *_env variables are errors naming the key and line. Never throws.
LoadResult load_string(std::string_view yaml);
// Reads the file and parses it; an unreadable file is one error with key "" and line 0.
LoadResult load_file(const std::string& path);

// The host name for greetings when smtp.hostname is not set.
std::string default_hostname();

// Splits "host:port" / "[v6]:port"; nullopt if malformed or port not in 0..65535.
struct HostPort {
  std::string host;
  uint16_t port = 0;
};
std::optional<HostPort> parse_host_port(std::string_view text);
// A dns.servers entry: "ip", "ip:port", "[ipv6]:port" or a bare IPv6 address (a server is named
// by address: the resolver cannot look up its own servers); port 53 when none is given.
std::optional<HostPort> parse_dns_server(std::string_view text);

// Index of the first route whose match list accepts `address` (case-insensitive on the domain
// and, for simplicity and safety, on the local part too), or nullopt (→ 550 5.1.1 at RCPT).
std::optional<size_t> match_route(const std::vector<Route>& routes, std::string_view address);

// The recipients of one (route, endpoint): each recipient belongs to its first matching route and
// goes to every endpoint of it. One group per (route, endpoint) that has recipients, in the order
// the recipients were given; recipients of no route or of routes without endpoints are in none.
struct RouteGroup {
  size_t route = 0;
  size_t endpoint = 0;
  std::vector<std::string> rcpt_to;
};
std::vector<RouteGroup> group_by_endpoint(const std::vector<Route>& routes,
                                          const std::vector<std::string>& rcpt_to);

}  // namespace config
