// The rspamd client (rspamd.h): cpp-httplib POSTs the message to /checkv2 with rspamd's protocol
// headers (https://rspamd.com/doc/developers/protocol.html), nlohmann/json reads the answer. rspamd
// closes its connection after each answer, so each call has a client (and a connection) of its own:
// nothing is shared between threads.
#include "mailauth/rspamd.h"

#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <system_error>
#include <thread>

#include "common/url.h"

namespace mailauth {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxAnswer = 1 << 20;  // bytes of an answer read at most
constexpr size_t kMaxSymbols = 100;
constexpr size_t kMaxName = 128;  // bytes of a symbol or action name kept

using common::Origin;
using common::split_origin;

// httplib bounds each connect, read and write by its own timeout, not the call: a server that
// answers a byte at a time could hold a call for ever. This timer stops the client (httplib's
// thread-safe way to abort a request in flight) at the deadline, and again every 10 ms until the
// call returns, in case the first stop came while the socket was still being set up.
class DeadlineTimer {
 public:
  DeadlineTimer(httplib::ClientImpl& client, Clock::time_point deadline)
      : thread_([this, &client, deadline] { run(client, deadline); }) {}
  ~DeadlineTimer() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;
  bool fired() {
    std::lock_guard lock(mutex_);
    return fired_;
  }

 private:
  void run(httplib::ClientImpl& client, Clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    if (wake_.wait_until(lock, deadline, [this] { return done_; })) return;
    while (!done_) {
      fired_ = true;
      lock.unlock();
      client.stop();  // may wait for a connect in progress (bounded by the connect timeout)
      lock.lock();
      wake_.wait_for(lock, std::chrono::milliseconds(10), [this] { return done_; });
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  bool fired_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

SpamVerdict unavailable(std::string reason) {
  SpamVerdict verdict;
  verdict.status = "unavailable";
  verdict.reason = std::move(reason);
  return verdict;
}

// A header value as sent: control characters (CR and LF above all, which would let an SMTP
// client's HELO or address inject headers into the request) are dropped.
std::string header_value(std::string_view text) {
  std::string clean;
  for (char c : text)
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) clean += c;
  return clean;
}

void add_header(httplib::Headers& headers, const char* name, std::string_view value) {
  std::string clean = header_value(value);
  if (!clean.empty()) headers.emplace(name, std::move(clean));
}

// rspamd's protocol headers for the envelope.
httplib::Headers protocol_headers(const SpamRequest& request, const Origin& origin) {
  httplib::Headers headers;
  headers.emplace("Host", origin.host_header);
  headers.emplace("User-Agent", "smtp-bridge");
  add_header(headers, "IP", request.client_ip);
  add_header(headers, "Helo", request.helo);
  // The null reverse-path (RFC 5321 4.5.5, bounces) is "<>", which rspamd reads as empty.
  add_header(headers, "From", request.mail_from.empty() ? "<>" : request.mail_from);
  for (const std::string& rcpt : request.rcpt_to) add_header(headers, "Rcpt", rcpt);
  if (request.user) add_header(headers, "User", *request.user);
  add_header(headers, "Queue-Id", request.queue_id);
  add_header(headers, "MTA-Name", request.hostname);
  return headers;
}

std::string clipped(const std::string& text) {
  return text.size() > kMaxName ? text.substr(0, kMaxName) : text;
}

// {"score": 1.5, "required_score": 15, "action": "no action", "symbols": {"NAME": {"score": 0.1,
// ...}, ...}, ...}; anything else is "bad_response".
SpamVerdict parse_answer(const std::string& body) {
  nlohmann::json answer = nlohmann::json::parse(body, nullptr, false);
  if (answer.is_discarded() || !answer.is_object()) return unavailable("bad_response");
  auto score = answer.find("score");
  auto required = answer.find("required_score");
  auto action = answer.find("action");
  auto symbols = answer.find("symbols");
  if (score == answer.end() || !score->is_number() || required == answer.end() ||
      !required->is_number() || action == answer.end() || !action->is_string() ||
      action->get_ref<const std::string&>().empty() ||
      (symbols != answer.end() && !symbols->is_object()))
    return unavailable("bad_response");
  SpamVerdict verdict;
  verdict.score = score->get<double>();
  verdict.required_score = required->get<double>();
  verdict.action = clipped(action->get<std::string>());
  if (symbols == answer.end()) return verdict;
  for (const auto& [name, symbol] : symbols->items()) {
    auto symbol_score = symbol.is_object() ? symbol.find("score") : symbol.end();
    if (!symbol.is_object() || symbol_score == symbol.end() || !symbol_score->is_number())
      return unavailable("bad_response");
    verdict.symbols.push_back({clipped(name), symbol_score->get<double>()});
  }
  // The symbols that weigh most are kept when there are too many; ties by name, for a stable order.
  std::sort(verdict.symbols.begin(), verdict.symbols.end(),
            [](const SpamSymbol& a, const SpamSymbol& b) {
              double weight_a = std::fabs(a.score), weight_b = std::fabs(b.score);
              return weight_a != weight_b ? weight_a > weight_b : a.name < b.name;
            });
  if (verdict.symbols.size() > kMaxSymbols) verdict.symbols.resize(kMaxSymbols);
  return verdict;
}

std::unique_ptr<httplib::ClientImpl> make_client(const Origin& origin) {
  std::unique_ptr<httplib::ClientImpl> client;
  if (origin.https) {
    auto tls = std::make_unique<httplib::SSLClient>(origin.host, origin.port);
    tls->enable_server_certificate_verification(true);  // the system trust store
    client = std::move(tls);
  } else {
    client = std::make_unique<httplib::ClientImpl>(origin.host, origin.port);
  }
  client->set_keep_alive(false);  // rspamd closes after each answer anyway
  client->set_follow_location(false);
  client->set_tcp_nodelay(true);  // headers and body go in two writes: no Nagle stall
  return client;
}

}  // namespace

SpamVerdict check_rspamd(const RspamdOptions& options, const SpamRequest& request) {
  auto started = Clock::now();
  std::optional<common::EndpointUrl> url = common::parse_endpoint_url(options.url);
  if (!url) return unavailable("unreachable");  // the config loader rejects such a URL first
  Origin origin = split_origin(url->origin);
  auto client = make_client(origin);
  client->set_connection_timeout(options.timeout);
  client->set_read_timeout(options.timeout);
  client->set_write_timeout(options.timeout);

  httplib::Request post;
  post.method = "POST";
  post.path = "/checkv2";
  post.headers = protocol_headers(request, origin);
  post.body.assign(request.message);
  std::string body;
  bool too_large = false;
  post.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
    if (body.size() + size > kMaxAnswer) {
      too_large = true;
      return false;
    }
    body.append(data, size);
    return true;
  };

  httplib::Response response;
  httplib::Error error = httplib::Error::Success;
  std::optional<DeadlineTimer> timer;
  try {
    timer.emplace(*client, started + options.timeout);
  } catch (const std::system_error&) {
    // No thread to be had (the process is at its limit): the call goes on, bounded by httplib's
    // per-step timeouts only, rather than failing a message over the timer.
  }
  bool complete = client->send(post, response, error);
  bool timed_out = timer && timer->fired();
  timer.reset();
  if (too_large) return unavailable("bad_response");
  if (!complete) {
    // httplib's own read timeout may beat the timer's thread to it on a busy machine: a transport
    // failure after the deadline is a timeout too. (An answer read in full stands, even when the
    // timer fired just after it.)
    bool late = Clock::now() >= started + options.timeout;
    bool timeout = timed_out || late || error == httplib::Error::ConnectionTimeout;
    return unavailable(timeout ? "timeout" : "unreachable");
  }
  if (response.status != 200) return unavailable("http_" + std::to_string(response.status));
  return parse_answer(body);
}

}  // namespace mailauth
