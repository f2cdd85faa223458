// The configuration keys smtp-bridge accepts (src/config/load*.cpp; CONTRACTS.md §4), as a tree:
// `true` = a leaf, `"[]"` = the items of a list, `"*"` = a free-form map. The chart's ConfigMap
// may hold nothing else: the bridge refuses unknown keys.
const secret = (base) => ({ [base]: true, [`${base}_file`]: true, [`${base}_env`]: true });
const retry = { initial: true, max_interval: true, max_age: true };
const httpLimits = {
  max_header_line: true, max_headers: true, max_head_bytes: true, head_timeout: true,
  min_body_rate: true, max_body: true,
};

const policy = {
  reject_dmarc: true, reject_spf_fail: true, require_dkim: true, temperror: true, reject_spam: true,
};

export const known_config_keys = {
  smtp: {
    listen: true, tls_listen: true, hostname: true, require_tls: true, bare_lf: true,
    greet_delay: true, drain_timeout: true, io_threads: true,
    tls: { cert_file: true, key_file: true },
    auth: {
      users: { "[]": { username: true, ...secret("password") } }, required: true, allow_plaintext: true,
      max_failures: true, failure_window: true,
    },
    limits: {
      max_message_size: true, max_recipients: true, max_connections: true, max_connections_per_ip: true,
      command_timeout: true, data_timeout: true, max_errors: true, max_command_line: true,
      max_line_length: true, max_buffered_bytes: true, max_buffered_bytes_per_ip: true,
      min_data_rate: true, data_transaction_timeout: true,
    },
  },
  routes: {
    "[]": {
      match: true, include_raw: true, max_attachment_bytes: true, policy,
      // issue 15: attachments by link, the reply, the drop-in formats.
      attachments: true, attachment_url_threshold: true, extract_reply: true,
      endpoints: {
        "[]": {
          name: true, url: true, ...secret("secret"), timeout: true, headers: { "*": true }, ca_file: true,
          secrets: { "[]": secret("secret") },
          format: true, max_payload_bytes: true, ...secret("signing_key"), ...secret("basic_auth"),
        },
      },
    },
  },
  delivery: { workers: true, retry, lease: true, max_render_attempts: true },
  // issue 14: delivery events' endpoints (a route endpoint's keys without format, plus types).
  events: {
    endpoints: {
      "[]": {
        name: true, url: true, ...secret("secret"), timeout: true, headers: { "*": true }, ca_file: true,
        secrets: { "[]": secret("secret") }, types: true,
      },
    },
  },
  store: {
    backend: true, path: true, max_size: true, commit_delay: true, retention: { delivered: true, dead: true },
    // backend postgres (issue 12); the lease length is delivery.lease.
    postgres: {
      dsn: true, dsn_file: true, dsn_env: true, password_file: true, pool_size: true, statement_timeout: true,
      connect_timeout: true,
    },
  },
  api: {
    listen: true,
    // issue 14: scoped keys and per-key rate limits.
    keys: {
      "[]": {
        name: true, ...secret("key"), scopes: true,
        rate_limit: { requests_per_second: true, burst: true, recipients_per_hour: true },
      },
    },
    limits: httpLimits,
    links: { base_url: true, ttl: true, secrets: { "[]": secret("secret") } },
  },
  relay: {
    upstream: { host: true, port: true, tls: true, verify: true, ca_file: true },
    auth: { mechanism: true, username: true, ...secret("password") },
    hostname: true, connections: true, rate_limit: { messages_per_second: true, burst: true }, retry, dkim: { "[]": { domain: true, selector: true, key_file: true } },
    timeouts: { connect: true, greeting: true, command: true, data_init: true, data_block: true, data_end: true },
    // issue 14: bounces, the VERP return path's domain and the keys that sign it.
    return_path_domain: true, return_path_secrets: { "[]": secret("secret") },
  },
  admin: { listen: true, limits: httpLimits },
  log: { level: true },
  memory: { budget: true },
  // Mail authentication (issue 13).
  dns: { servers: true, budget: true },
  authentication: { enabled: true, workers: true },
  spam: { rspamd: { url: true, timeout: true, failure: true } },
  policy,
};
