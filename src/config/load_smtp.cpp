// The `smtp:` section of the configuration: listeners, TLS files, AUTH users and the limits of
// SMTP.md, each checked at load so the server never starts on a value it cannot honour.
#include <unistd.h>

#include <algorithm>
#include <set>

#include "config/sections.h"

namespace config::detail {
namespace {

void load_tls(Reader& reader, const YAML::Node& node, TlsFiles& tls) {
  const std::string key = "smtp.tls";
  if (!reader.expect_map(node, key, {"cert_file", "key_file"})) return;
  reader.read_string(node, key, "cert_file", tls.cert_file);
  reader.read_string(node, key, "key_file", tls.key_file);
  if (!tls.cert_file.empty() && tls.key_file.empty())
    reader.error("smtp.tls.key_file", node, "is required when cert_file is set");
  else if (tls.cert_file.empty() && !tls.key_file.empty())
    reader.error("smtp.tls.cert_file", node, "is required when key_file is set");
  check_readable(reader, node, key, "cert_file", tls.cert_file);
  check_readable(reader, node, key, "key_file", tls.key_file);
}

void load_user(Reader& reader, const YAML::Node& node, const std::string& key, SmtpUser& user) {
  if (!reader.expect_map(node, key, {"username", "password", "password_file", "password_env"}))
    return;
  if (!Reader::field(node, "username"))
    reader.error(join_key(key, "username"), node, "is required");
  reader.read_string(node, key, "username", user.username, false);
  reader.read_secret(node, key, "password", user.password, true);
}

void load_auth(Reader& reader, const YAML::Node& node, SmtpAuth& auth) {
  const std::string key = "smtp.auth";
  if (!reader.expect_map(
          node, key, {"users", "required", "allow_plaintext", "max_failures", "failure_window"}))
    return;
  reader.read_bool(node, key, "required", auth.required);
  reader.read_bool(node, key, "allow_plaintext", auth.allow_plaintext);
  reader.read_unsigned(node, key, "max_failures", auth.max_failures, 0, 1000000);
  reader.read_duration(node, key, "failure_window", auth.failure_window, std::chrono::seconds(1));
  auto users = Reader::field(node, "users");
  if (users && !users->IsSequence()) {
    reader.error("smtp.auth.users", *users, "must be a list of {username, password...}");
  } else if (users) {
    std::set<std::string> names;
    for (size_t i = 0; i < users->size(); ++i) {
      std::string user_key = "smtp.auth.users[" + std::to_string(i) + "]";
      SmtpUser user;
      load_user(reader, (*users)[i], user_key, user);
      if (!user.username.empty() && !names.insert(user.username).second)
        reader.error(user_key + ".username", (*users)[i],
                     "duplicate username '" + user.username + "'");
      auth.users.push_back(std::move(user));
    }
  }
  if (auth.required && auth.users.empty()) {
    auto required = Reader::field(node, "required");
    reader.error("smtp.auth.required", required ? *required : node,
                 "needs at least one user in smtp.auth.users");
  }
}

// max_buffered_bytes_per_ip: a quarter of the budget unless told otherwise, so that four
// addresses are needed to lock the others out; but never less than one message of
// max_message_size (when the budget holds that much), or such a message could never be taken.
void load_share(Reader& reader, const YAML::Node& node, SmtpLimits& limits) {
  const uint64_t one_message = std::min(limits.max_message_size, limits.max_buffered_bytes);
  limits.max_buffered_bytes_per_ip = std::max(limits.max_buffered_bytes / 4, one_message);
  if (!Reader::field(node, "max_buffered_bytes_per_ip") ||
      !reader.read_size(node, "smtp.limits", "max_buffered_bytes_per_ip",
                        limits.max_buffered_bytes_per_ip, 1))
    return;
  const std::string key = "smtp.limits.max_buffered_bytes_per_ip";
  const YAML::Node at = *Reader::field(node, "max_buffered_bytes_per_ip");
  if (limits.max_buffered_bytes_per_ip > limits.max_buffered_bytes)
    reader.error(key, at,
                 "must not exceed smtp.limits.max_buffered_bytes (" +
                     std::to_string(limits.max_buffered_bytes) + " bytes)");
  else if (limits.max_buffered_bytes_per_ip < one_message)
    reader.error(key, at,
                 "must be at least smtp.limits.max_message_size (" + std::to_string(one_message) +
                     " bytes): a message of that size could never be taken");
}

void load_limits(Reader& reader, const YAML::Node& node, SmtpLimits& limits) {
  const std::string key = "smtp.limits";
  if (!reader.expect_map(
          node, key,
          {"max_message_size", "max_recipients", "max_connections", "max_connections_per_ip",
           "command_timeout", "data_timeout", "max_errors", "max_command_line", "max_line_length",
           "max_buffered_bytes", "max_buffered_bytes_per_ip", "min_data_rate",
           "data_transaction_timeout"}))
    return;
  reader.read_size(node, key, "max_message_size", limits.max_message_size, 1);
  reader.read_unsigned(node, key, "max_recipients", limits.max_recipients, 1);
  reader.read_unsigned(node, key, "max_connections", limits.max_connections, 1);
  reader.read_unsigned(node, key, "max_connections_per_ip", limits.max_connections_per_ip, 1);
  reader.read_duration(node, key, "command_timeout", limits.command_timeout,
                       std::chrono::seconds(1));
  reader.read_duration(node, key, "data_timeout", limits.data_timeout, std::chrono::seconds(1));
  reader.read_size(node, key, "min_data_rate", limits.min_data_rate, 0);  // bytes per second
  reader.read_duration(node, key, "data_transaction_timeout", limits.data_transaction_timeout,
                       std::chrono::seconds(1));
  reader.read_unsigned(node, key, "max_errors", limits.max_errors, 1);
  // RFC 5321 4.5.3.1.4: a command line of 512 octets (with CRLF) must be accepted.
  reader.read_unsigned(node, key, "max_command_line", limits.max_command_line, 512);
  // RFC 5321 4.5.3.1.6: a text line of 1000 octets (with CRLF) must be accepted.
  reader.read_unsigned(node, key, "max_line_length", limits.max_line_length, 1000);
  reader.read_size(node, key, "max_buffered_bytes", limits.max_buffered_bytes, 1);
  load_share(reader, node, limits);
}

}  // namespace

void check_readable(Reader& reader, const YAML::Node& map, const std::string& prefix,
                    std::string_view name, const std::string& path) {
  if (path.empty() || access(path.c_str(), R_OK) == 0) return;
  auto node = Reader::field(map, name);
  reader.error(join_key(prefix, name), node ? *node : map, "cannot read '" + path + "'");
}

void load_smtp(Reader& reader, const YAML::Node& node, Smtp& smtp) {
  const std::string key = "smtp";
  if (!reader.expect_map(node, key,
                         {"listen", "tls_listen", "hostname", "tls", "require_tls", "auth",
                          "limits", "bare_lf", "greet_delay", "drain_timeout", "io_threads"}))
    return;
  reader.read_address_list(node, key, "listen", smtp.listen);
  reader.read_address_list(node, key, "tls_listen", smtp.tls_listen);
  if (reader.read_string(node, key, "hostname", smtp.hostname) &&
      !is_printable_token(smtp.hostname))
    reader.error("smtp.hostname", *Reader::field(node, "hostname"),
                 "must be one word without spaces or control characters");
  if (auto tls = Reader::field(node, "tls")) load_tls(reader, *tls, smtp.tls);
  reader.read_bool(node, key, "require_tls", smtp.require_tls);
  if (auto auth = Reader::field(node, "auth")) load_auth(reader, *auth, smtp.auth);
  if (auto limits = Reader::field(node, "limits")) load_limits(reader, *limits, smtp.limits);
  std::string bare_lf = smtp.bare_lf == BareLf::reject ? "reject" : "accept";
  reader.read_choice(node, key, "bare_lf", {"reject", "accept"}, bare_lf);
  smtp.bare_lf = bare_lf == "accept" ? BareLf::accept : BareLf::reject;
  reader.read_duration(node, key, "greet_delay", smtp.greet_delay);
  reader.read_duration(node, key, "drain_timeout", smtp.drain_timeout);
  reader.read_unsigned(node, key, "io_threads", smtp.io_threads, 0, 1024);

  if (!smtp.tls_listen.empty() && !smtp.tls.enabled())
    reader.error("smtp.tls_listen", *Reader::field(node, "tls_listen"),
                 "needs smtp.tls.cert_file and smtp.tls.key_file");
  if (smtp.require_tls && !smtp.tls.enabled())
    reader.error("smtp.require_tls", *Reader::field(node, "require_tls"),
                 "needs smtp.tls.cert_file and smtp.tls.key_file (STARTTLS)");
}

}  // namespace config::detail
