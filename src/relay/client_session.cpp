// One upstream SMTP session over Asio coroutines: connect, implicit TLS or STARTTLS (RFC 3207,
// RFC 8314), EHLO/HELO, AUTH (RFC 4954), transactions with PIPELINING (RFC 2920), RSET, QUIT.
// Promise: never throws; every failure is a Reply (code 0 = local) and leaves the session unusable.
// Not thread-safe: one Client is used from one thread at a time (the relay runs one io thread).
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "relay/client.h"
#include "relay/protocol.h"

namespace relay {

namespace {
constexpr auto use_nothrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kWriteChunk = 1024 * 1024;
constexpr Duration kQuitTimeout = std::chrono::seconds(10);
using tcp = asio::ip::tcp;

Reply local_failure(std::string text) {
  return Reply{0, "", std::move(text)};
}
}  // namespace

struct Client::Impl {
  Impl(asio::any_io_executor executor, const ClientOptions& options, asio::ssl::context& context)
      : options(options), resolver(executor), stream(executor, context), timer(executor) {}

  // The watchdog: a timer that cancels the socket when an operation outlives its deadline.
  // The shared Guard tells a late timer handler whether its operation is still the current one.
  struct Guard {
    uint64_t generation = 0;
    bool fired = false;
  };

  ClientOptions options;
  tcp::resolver resolver;
  asio::ssl::stream<tcp::socket> stream;
  asio::steady_timer timer;
  std::shared_ptr<Guard> guard = std::make_shared<Guard>();
  bool tls = false, usable = false, connected = false;
  Capabilities caps;
  std::string in;  // bytes read and not yet consumed
  ReplyParser parser;

  void arm(Duration timeout) {
    uint64_t generation = ++guard->generation;
    guard->fired = false;
    timer.expires_after(timeout);
    std::weak_ptr<Guard> weak = guard;
    timer.async_wait([weak, generation, this](const asio::error_code& ec) {
      auto state = weak.lock();  // gone: the Impl was destroyed
      if (ec || !state || state->generation != generation) return;
      state->fired = true;
      asio::error_code ignored;
      resolver.cancel();
      stream.next_layer().cancel(ignored);
    });
  }

  void disarm() {
    ++guard->generation;
    timer.cancel();
  }

  // Marks the session unusable, closes the socket and returns a local failure reply.
  Reply fail(const std::string& what, const asio::error_code& ec = {}) {
    std::string text = what;
    if (guard->fired)
      text += ": timed out";
    else if (ec)
      text += ": " + ec.message();
    usable = false;
    close();
    return local_failure(std::move(text));
  }

  void close() {
    disarm();
    asio::error_code ignored;
    stream.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream.next_layer().close(ignored);
    connected = false;
  }

  asio::awaitable<bool> write(std::string_view bytes, Duration timeout, asio::error_code& ec) {
    while (!bytes.empty()) {
      std::string_view chunk = bytes.substr(0, kWriteChunk);
      arm(timeout);
      size_t n = 0;
      if (tls)
        std::tie(ec, n) = co_await asio::async_write(stream, asio::buffer(chunk), use_nothrow);
      else
        std::tie(ec, n) =
            co_await asio::async_write(stream.next_layer(), asio::buffer(chunk), use_nothrow);
      disarm();
      if (ec || guard->fired) co_return false;
      bytes.remove_prefix(chunk.size());
    }
    co_return true;
  }

  // One reply line (CRLF or a lenient bare LF) into `line`; false on EOF, error, timeout or a
  // line over kMaxReplyLine.
  asio::awaitable<bool> read_line(std::string& line, asio::error_code& ec, bool& garbage) {
    for (;;) {
      size_t end = in.find('\n');
      if (end != std::string::npos) {
        line.assign(in, 0, end > 0 && in[end - 1] == '\r' ? end - 1 : end);
        in.erase(0, end + 1);
        co_return true;
      }
      if (in.size() > kMaxReplyLine + 2) {
        garbage = true;
        co_return false;
      }
      size_t old_size = in.size();
      in.resize(old_size + kReadChunk);
      size_t n = 0;
      auto buffer = asio::buffer(in.data() + old_size, kReadChunk);
      if (tls)
        std::tie(ec, n) = co_await stream.async_read_some(buffer, use_nothrow);
      else
        std::tie(ec, n) = co_await stream.next_layer().async_read_some(buffer, use_nothrow);
      in.resize(old_size + n);
      if (n == 0) {
        if (!ec) ec = asio::error::eof;
        co_return false;
      }
    }
  }

  // One complete reply; a local failure (and an unusable session) on I/O errors or garbage.
  asio::awaitable<Reply> read_reply(Duration timeout, const char* what) {
    parser.clear();
    arm(timeout);
    for (;;) {
      std::string line;
      asio::error_code ec;
      bool garbage = false;
      if (!co_await read_line(line, ec, garbage)) {
        Reply failure = fail(garbage ? std::string("reply line too long waiting for ") + what
                                     : std::string("connection lost waiting for ") + what,
                             ec);
        co_return failure;
      }
      auto status = parser.add_line(line);
      if (status == ReplyParser::Status::bad) {
        Reply failure = fail(std::string("malformed reply to ") + what);
        co_return failure;
      }
      if (status == ReplyParser::Status::done) break;
    }
    disarm();
    Reply reply = parser.reply();
    if (reply.code == 421) {  // RFC 5321 3.8: the server is closing the channel
      usable = false;
      close();
    }
    co_return reply;
  }

  // Writes a command and reads its reply.
  // `line` by value: it lives in the coroutine frame (no temporaries across suspension points).
  asio::awaitable<Reply> command(std::string line, Duration timeout, const char* what) {
    asio::error_code ec;
    if (!co_await write(line, options.timeouts.command, ec)) {
      Reply failure = fail(std::string("connection lost sending ") + what, ec);
      co_return failure;
    }
    Reply reply = co_await read_reply(timeout, what);
    co_return reply;
  }

  asio::awaitable<Reply> connect() {
    arm(options.timeouts.connect);
    auto [rec, endpoints] =
        co_await resolver.async_resolve(options.host, std::to_string(options.port), use_nothrow);
    if (rec || guard->fired) co_return fail("cannot resolve " + options.host, rec);
    auto [ec, endpoint] = co_await asio::async_connect(stream.next_layer(), endpoints, use_nothrow);
    disarm();
    if (ec || guard->fired)
      co_return fail("cannot connect to " + options.host + ":" + std::to_string(options.port), ec);
    connected = true;
    asio::error_code ignored;
    stream.next_layer().set_option(tcp::no_delay(true), ignored);
    co_return Reply{220, "", "connected"};
  }

  // RFC 8314 / RFC 3207 4.1: SNI for names, and the certificate must match the name or IP.
  asio::awaitable<Reply> handshake() {
    SSL* ssl = stream.native_handle();
    asio::error_code address_error;
    asio::ip::make_address(options.host, address_error);
    bool is_ip = !address_error;
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(param, options.host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, options.host.c_str());  // RFC 6066 3: never an IP literal
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(ssl, options.host.c_str());
    }
    arm(options.timeouts.connect);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, use_nothrow);
    disarm();
    if (ec || guard->fired) {
      std::string what = "TLS handshake with " + options.host + " failed";
      long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK)
        what += std::string(" (certificate: ") + X509_verify_cert_error_string(verify) + ")";
      co_return fail(what, ec);
    }
    tls = true;
    in.clear();  // RFC 3207 4.2: nothing read before TLS may be used after it
    co_return Reply{220, "", "TLS"};
  }

  // EHLO, or HELO when EHLO gets a 5xx (RFC 5321 4.1.1.1, 3.2).
  asio::awaitable<Reply> hello() {
    const std::string& name = options.ehlo_name.empty() ? options.host : options.ehlo_name;
    Reply reply = co_await command("EHLO " + name + "\r\n", options.timeouts.command, "EHLO");
    if (reply.code == 250) {
      caps = parse_capabilities(parser.texts());
    } else if (reply.permanent()) {
      reply = co_await command("HELO " + name + "\r\n", options.timeouts.command, "HELO");
      caps = Capabilities{};
    }
    caps.tls = tls;
    co_return reply;
  }

  asio::awaitable<Reply> quit_with(Reply failure) {
    if (connected) co_await command("QUIT\r\n", kQuitTimeout, "QUIT");
    usable = false;
    close();
    co_return failure;
  }

  asio::awaitable<Reply> authenticate() {
    // Never AUTH in plaintext unless tls: none was configured on purpose (RFC 4954 4).
    if (!tls && options.tls != config::UpstreamTls::none)
      co_return co_await quit_with(local_failure("refusing AUTH without TLS"));
    std::string mechanism = choose_mechanism(options.mechanism, caps.auth);
    if (mechanism.empty()) {
      std::string offered;
      for (const auto& m : caps.auth) offered += (offered.empty() ? "" : " ") + m;
      co_return co_await quit_with(
          local_failure("the upstream offers no usable AUTH mechanism (configured " +
                        options.mechanism + ", offered '" + offered + "')"));
    }
    SaslClient sasl(mechanism, options.username, options.password);
    Reply reply = co_await command(sasl.initial_command(), options.timeouts.command, "AUTH");
    while (reply.code == 334) {
      std::string challenge = parser.texts().empty() ? "" : parser.texts().front();
      std::optional<std::string> answer = sasl.answer(challenge);
      std::string line = answer ? *answer + "\r\n" : std::string("*\r\n");  // RFC 4954 4: cancel
      reply = co_await command(std::move(line), options.timeouts.command, "AUTH");
      if (!answer && usable) reply = local_failure("AUTH " + mechanism + " exchange failed");
    }
    if (reply.code != 235) co_return co_await quit_with(reply);  // RFC 4954 6: 535 etc.
    caps.auth_used = mechanism;
    co_return reply;
  }

  asio::awaitable<Reply> start() {
    Reply reply = co_await connect();
    if (!connected) co_return reply;
    if (options.tls == config::UpstreamTls::implicit) {
      reply = co_await handshake();
      if (!tls) co_return reply;
    }
    reply = co_await read_reply(options.timeouts.greeting, "greeting");
    if (reply.code == 0) co_return reply;
    if (reply.code != 220) co_return co_await quit_with(reply);  // RFC 5321 3.1: 554 → QUIT
    usable = true;
    reply = co_await hello();
    if (reply.code != 250) co_return co_await quit_with(reply);
    if (options.tls == config::UpstreamTls::starttls) {  // RFC 3207: required, no fallback
      if (!caps.starttls)
        co_return co_await quit_with(local_failure(
            "the upstream does not offer STARTTLS and tls: starttls is required; nothing sent"));
      reply = co_await command("STARTTLS\r\n", options.timeouts.command, "STARTTLS");
      if (reply.code != 220) co_return co_await quit_with(reply);
      reply = co_await handshake();
      if (!tls) co_return reply;
      reply = co_await hello();  // RFC 3207 4.2: forget what was learnt before TLS
      if (reply.code != 250) co_return co_await quit_with(reply);
    }
    if (!options.username.empty()) {
      reply = co_await authenticate();
      if (!usable) co_return reply;
    }
    co_return reply;
  }

  asio::awaitable<SendResult> transaction(const Envelope& envelope, std::string_view data);
};

// RFC 5321 3.3 with RFC 2920 PIPELINING: MAIL and every RCPT (and DATA) in one write when the
// server offers it, then the replies in order. Each recipient ends with the reply that decides
// it (RFC 5321 4.2.5): its RCPT refusal, else the reply to the data; undecided recipients get
// the failure that ended the session.
asio::awaitable<SendResult> Client::Impl::transaction(const Envelope& envelope,
                                                      std::string_view data) {
  const size_t count = envelope.rcpt_to.size();
  SendResult result;
  std::vector<std::optional<Reply>> decided(count);
  auto finish = [&](const Reply& rest) {
    result.recipients.clear();
    for (size_t i = 0; i < count; ++i) {
      result.recipients.push_back(decided[i] ? *decided[i] : rest);
      result.throttled |= result.recipients.back().throttling();
    }
    result.throttled |= rest.throttling();
    result.connection_usable = usable;
    return result;
  };
  if (!usable) co_return finish(local_failure("the upstream session is not usable"));
  Needs needs = message_needs(envelope, data);
  if (auto refusal = local_refusal(caps, needs, data.size())) co_return finish(*refusal);

  const bool pipelined = caps.pipelining && caps.esmtp;
  std::vector<std::string> rcpt_lines;
  for (const std::string& rcpt : envelope.rcpt_to)
    rcpt_lines.push_back("RCPT TO:<" + rcpt + ">\r\n");
  std::string mail = mail_command(envelope, caps, needs, data.size());
  asio::error_code ec;
  if (pipelined) {
    std::string batch = mail;
    for (const std::string& line : rcpt_lines) batch += line;
    batch += "DATA\r\n";  // RFC 2920 3.1: DATA may end the group
    if (!co_await write(batch, options.timeouts.command, ec))
      co_return finish(fail("connection lost sending MAIL", ec));
  }
  Reply mail_reply;
  if (pipelined)
    mail_reply = co_await read_reply(options.timeouts.command, "MAIL");
  else
    mail_reply = co_await command(mail, options.timeouts.command, "MAIL");
  result.throttled |= mail_reply.throttling();
  if (mail_reply.code == 0) co_return finish(mail_reply);
  bool mail_ok = mail_reply.code / 100 == 2;
  if (!mail_ok && !pipelined) co_return finish(mail_reply);
  size_t accepted = 0;
  for (size_t i = 0; i < count; ++i) {
    Reply reply;
    if (pipelined)
      reply = co_await read_reply(options.timeouts.command, "RCPT");
    else
      reply = co_await command(rcpt_lines[i], options.timeouts.command, "RCPT");
    if (reply.code == 0) co_return finish(reply);
    if (!mail_ok) continue;  // the RCPT replies after a refused MAIL say nothing (503)
    result.throttled |= reply.throttling();
    if (reply.code / 100 == 2)
      ++accepted;
    else
      decided[i] = reply;
  }
  if (!pipelined && accepted == 0) co_return finish(mail_reply);  // nothing accepted: no DATA
  Reply data_reply;
  if (pipelined)
    data_reply = co_await read_reply(options.timeouts.data_init, "DATA");
  else
    data_reply = co_await command("DATA\r\n", options.timeouts.data_init, "DATA");
  if (data_reply.code == 0) co_return finish(data_reply);
  if (data_reply.code == 354 && (!mail_ok || accepted == 0)) {
    // RFC 2920 3.1: a 354 despite no recipient: end the (empty) data at once.
    Reply ignored = co_await command(".\r\n", options.timeouts.data_end, "end of data");
    co_return finish(ignored.code == 0 ? ignored : mail_ok ? data_reply : mail_reply);
  }
  if (!mail_ok) co_return finish(mail_reply);
  if (data_reply.code != 354) co_return finish(data_reply);
  std::string stuffed = dot_stuff(data);
  if (!co_await write(stuffed, options.timeouts.data_block, ec))
    co_return finish(fail("connection lost sending the message data", ec));
  Reply final_reply = co_await read_reply(options.timeouts.data_end, "end of data");
  co_return finish(final_reply);
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

const Capabilities& Client::capabilities() const {
  return impl_->caps;
}
bool Client::usable() const {
  return impl_->usable;
}

asio::awaitable<std::unique_ptr<Client>> Client::open(asio::any_io_executor executor,
                                                      const ClientOptions& options,
                                                      asio::ssl::context& tls, Reply& failure) {
  auto impl = std::make_unique<Impl>(executor, options, tls);
  Reply reply = co_await impl->start();
  if (!impl->usable) {
    failure = reply;
    impl->close();
    co_return nullptr;
  }
  co_return std::unique_ptr<Client>(new Client(std::move(impl)));
}

asio::awaitable<SendResult> Client::send(const Envelope& envelope, std::string_view data) {
  return impl_->transaction(envelope, data);
}

asio::awaitable<bool> Client::reset() {
  if (!impl_->usable) co_return false;
  Reply reply = co_await impl_->command("RSET\r\n", impl_->options.timeouts.command, "RSET");
  if (reply.code != 250) {
    impl_->usable = false;
    impl_->close();
  }
  co_return impl_->usable;
}

asio::awaitable<void> Client::quit() {
  if (impl_->connected && impl_->usable) co_await impl_->command("QUIT\r\n", kQuitTimeout, "QUIT");
  impl_->usable = false;
  impl_->close();
}

}  // namespace relay
