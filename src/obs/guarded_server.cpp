// The guarded httplib server: its keep-alive loop (httplib 0.11's process_server_socket_core,
// same keep_alive_max_count, keep_alive_timeout and per-read timeouts) over a Stream of its own
// that reads and checks each head before httplib parses it, then counts and paces the body.
#include "obs/guarded_server.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace obs {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kChunk = 16 * 1024;  // one recv
// After refusing a request whose bytes still arrive, keep reading (and dropping) them this long
// before closing: closing with unread input sends a TCP RST, and the client may then lose the
// answer before reading it (RFC 9112 9.6, "tear-down").
constexpr auto kLinger = std::chrono::seconds(2);
// Waits that a stop() must be able to end are cut into slices this long.
constexpr auto kStopSlice = std::chrono::milliseconds(100);

Clock::duration seconds(time_t sec, time_t usec) {
  return std::chrono::seconds(sec) + std::chrono::microseconds(usec);
}

void address_of(socket_t sock, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t length = sizeof addr;
  auto* raw = reinterpret_cast<sockaddr*>(&addr);
  if ((peer ? getpeername(sock, raw, &length) : getsockname(sock, raw, &length)) != 0) return;
  char host[NI_MAXHOST];
  char service[NI_MAXSERV];
  if (getnameinfo(raw, length, host, sizeof host, service, sizeof service,
                  NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    ip = host;
    port = std::atoi(service);
  }
}

void default_render(const Refusal& refusal, httplib::Response& res) {
  nlohmann::json body = {{"type", "https://smtp-bridge.dev/problems/" + refusal.slug},
                         {"title", refusal.title},
                         {"status", refusal.status},
                         {"detail", refusal.detail}};
  res.set_content(body.dump(), "application/problem+json");
}

}  // namespace

// One accepted connection: the Stream httplib reads requests from. Holds at most one head
// (max_head_bytes) plus one recv of buffered input.
class GuardedServer::Connection final : public httplib::Stream {
 public:
  enum class Head { ready, closed, refused };
  enum class Wait { ready, timeout, stopping, error };

  Connection(socket_t sock, const GuardedServer& server)
      : sock_(sock),
        server_(server),
        scanner_(server.limits_),
        read_timeout_(seconds(server.read_timeout_sec_, server.read_timeout_usec_)),
        write_timeout_(seconds(server.write_timeout_sec_, server.write_timeout_usec_)) {
    address_of(sock, true, remote_ip_, remote_port_);
    address_of(sock, false, local_ip_, local_port_);
  }

  bool is_readable() const override {
    return off_ < buffer_.size() ||
           wait(POLLIN, Clock::now() + read_timeout_, false) == Wait::ready;
  }
  bool is_writable() const override {
    return wait(POLLOUT, Clock::now() + write_timeout_, false) == Wait::ready;
  }
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = remote_ip_;
    port = remote_port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = local_ip_;
    port = local_port_;
  }
  socket_t socket() const override { return sock_; }

  // True when a request's first byte is there within the keep-alive timeout.
  bool await_request(time_t keep_alive_seconds) const {
    if (off_ < buffer_.size()) return true;  // a pipelined request
    return wait(POLLIN, Clock::now() + std::chrono::seconds(keep_alive_seconds), true) ==
           Wait::ready;
  }
  Head read_head();
  // httplib parsed the head: what body the request declares.
  void begin(const httplib::Request& req);
  // Whether the next request may follow on this connection: this one was read to its end.
  bool reusable() const;
  // Writes a whole response by itself (the request never reached httplib); Connection: close.
  void answer(const httplib::Response& res, const std::string& reason);
  void linger();

  const Refusal& head_refusal() const { return head_refusal_; }
  std::optional<Refusal> cut;      // the body broke a limit: the answer httplib's 400 becomes
  bool close_requested = false;    // a handler answered before reading the body
  int error_status = 0;            // the status of an error answer, if any
  common::BudgetLease body_lease;  // the current request's body, from the memory budget

 private:
  Wait wait(short events, Clock::time_point deadline, bool stoppable) const;
  bool fill();  // one recv of body bytes into the empty buffer, paced

  socket_t sock_;
  const GuardedServer& server_;
  HeadScanner scanner_;
  Clock::duration read_timeout_;
  Clock::duration write_timeout_;
  std::string remote_ip_, local_ip_;
  int remote_port_ = 0, local_port_ = 0;
  std::string buffer_;  // input read, not yet given to httplib: buffer_[off_..]
  size_t off_ = 0;
  size_t head_left_ = 0;    // bytes of the current head httplib has not read yet
  uint64_t body_read_ = 0;  // bytes given to httplib after the head
  Clock::time_point body_start_;
  std::optional<uint64_t> content_length_;
  bool chunked_ = false;
  Refusal head_refusal_;  // why read_head() refused
};

thread_local GuardedServer::Connection* GuardedServer::current_ = nullptr;

GuardedServer::Connection::Wait GuardedServer::Connection::wait(short events,
                                                                Clock::time_point deadline,
                                                                bool stoppable) const {
  for (;;) {
    if (stoppable && server_.svr_sock_ == INVALID_SOCKET) return Wait::stopping;
    auto now = Clock::now();
    if (now >= deadline) return Wait::timeout;
    auto left = deadline - now;
    if (stoppable) left = std::min<Clock::duration>(left, kStopSlice);
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    pollfd fd{sock_, events, 0};
    int ready = ::poll(&fd, 1, static_cast<int>(std::min<int64_t>(ms, 1 << 30)));
    if (ready > 0) return Wait::ready;  // POLLHUP/POLLERR too: the next recv/send tells
    if (ready < 0 && errno != EINTR) return Wait::error;
  }
}

GuardedServer::Connection::Head GuardedServer::Connection::read_head() {
  buffer_.erase(0, off_);
  off_ = 0;
  scanner_.reset();
  head_left_ = 0;
  body_read_ = 0;
  cut.reset();
  close_requested = false;
  error_status = 0;
  body_lease.reset();
  content_length_.reset();
  chunked_ = false;
  auto deadline = Clock::now() + server_.limits_.head_timeout;
  size_t scanned = 0;
  for (;;) {
    auto state = scanner_.feed(std::string_view(buffer_).substr(scanned));
    scanned = buffer_.size();
    if (state == HeadScanner::State::complete) {
      head_left_ = scanner_.head_size();
      body_start_ = Clock::now();
      return Head::ready;
    }
    if (state == HeadScanner::State::refused) {
      head_refusal_ = scanner_.refusal();
      return Head::refused;
    }
    Wait waited = wait(POLLIN, std::min(deadline, Clock::now() + read_timeout_), true);
    if (waited == Wait::timeout) {
      head_refusal_ = head_timeout_refusal(server_.limits_.head_timeout);
      return Head::refused;
    }
    if (waited != Wait::ready) return Head::closed;
    size_t old = buffer_.size();
    buffer_.resize(old + kChunk);
    ssize_t n;
    do n = ::recv(sock_, buffer_.data() + old, kChunk, 0);
    while (n < 0 && errno == EINTR);
    buffer_.resize(old + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n <= 0) return Head::closed;  // the client closed (or failed) mid-head: nothing to answer
  }
}

ssize_t GuardedServer::Connection::read(char* ptr, size_t size) {
  if (cut) return -1;
  if (size == 0) return 0;
  bool body = head_left_ == 0;
  size_t want = size;
  if (body) {
    if (body_read_ >= server_.max_body_) {
      cut = body_too_large_refusal(server_.max_body_);
      return -1;
    }
    want = static_cast<size_t>(std::min<uint64_t>(want, server_.max_body_ - body_read_));
  } else {
    want = std::min(want, head_left_);  // the head is buffered whole
  }
  if (off_ == buffer_.size() && !fill()) return -1;
  size_t n = std::min(want, buffer_.size() - off_);
  std::memcpy(ptr, buffer_.data() + off_, n);
  off_ += n;
  if (body)
    body_read_ += n;
  else
    head_left_ -= n;
  return static_cast<ssize_t>(n);
}

bool GuardedServer::Connection::fill() {
  const auto& limits = server_.limits_;
  auto deadline = body_deadline(body_start_, limits.head_timeout, limits.min_body_rate, body_read_);
  Wait waited = wait(POLLIN, std::min(deadline, Clock::now() + read_timeout_), false);
  if (waited == Wait::timeout) {
    cut = body_too_slow_refusal(limits.min_body_rate);
    return false;
  }
  if (waited != Wait::ready) return false;
  buffer_.resize(kChunk);
  off_ = 0;
  ssize_t n;
  do n = ::recv(sock_, buffer_.data(), kChunk, 0);
  while (n < 0 && errno == EINTR);
  buffer_.resize(static_cast<size_t>(std::max<ssize_t>(n, 0)));
  return n > 0;
}

ssize_t GuardedServer::Connection::write(const char* ptr, size_t size) {
  if (!is_writable()) return -1;
  ssize_t n;
  do n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n;
}

void GuardedServer::Connection::begin(const httplib::Request& req) {
  chunked_ = req.has_header("Transfer-Encoding");
  if (req.has_header("Content-Length")) {
    const std::string value = req.get_header_value("Content-Length");
    bool digits = !value.empty() && value.size() <= 19 &&
                  value.find_first_not_of("0123456789") == std::string::npos;
    if (digits)
      content_length_ = std::stoull(value);
    else
      close_requested = true;  // unknown framing: refused before the body, never reused
  }
}

bool GuardedServer::Connection::reusable() const {
  if (cut || close_requested || head_left_ > 0) return false;
  // httplib 0.11 reads no body for GET or HEAD even when one is declared: its bytes would be
  // taken as the next request (RFC 9112 6.3), so such a connection ends here.
  if (chunked_) return body_read_ > 0 && error_status == 0;
  return body_read_ == content_length_.value_or(0);
}

void GuardedServer::Connection::answer(const httplib::Response& res, const std::string& reason) {
  std::string out = "HTTP/1.1 " + std::to_string(res.status) + " " + reason + "\r\n";
  for (const auto& [name, value] : res.headers) {
    if (name == "Content-Length" || name == "Connection") continue;
    out += name + ": " + value + "\r\n";
  }
  out += "Content-Length: " + std::to_string(res.body.size()) + "\r\nConnection: close\r\n\r\n";
  out += res.body;
  for (size_t sent = 0; sent < out.size();) {
    ssize_t n = write(out.data() + sent, out.size() - sent);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

void GuardedServer::Connection::linger() {
  ::shutdown(sock_, SHUT_WR);
  auto deadline = Clock::now() + kLinger;
  char scratch[kChunk];
  while (wait(POLLIN, deadline, true) == Wait::ready) {
    ssize_t n = ::recv(sock_, scratch, sizeof scratch, 0);
    if (n == 0 || (n < 0 && errno != EINTR)) return;
  }
}

GuardedServer::GuardedServer(std::string listener, const common::HttpLimits& limits,
                             uint64_t max_body, Registry& registry)
    : listener_(std::move(listener)),
      limits_(limits),
      max_body_(max_body),
      limited_(registry.counter("smtp_bridge_http_limited_total",
                                "HTTP requests refused or cut by a listener's limits before any "
                                "handler, by listener and reason.")),
      render_(default_render) {
  set_payload_max_length(static_cast<size_t>(max_body));
}

void GuardedServer::refuse(const Refusal& refusal, httplib::Response& res) {
  limited_.add({{"listener", listener_}, {"reason", refusal.reason}}).inc();
  res.status = refusal.status;
  res.body.clear();
  render_(refusal, res);
  res.status = refusal.status;
  for (const auto& [name, value] : refusal.headers) res.set_header(name, value);
}

void GuardedServer::close_after_response(const httplib::Request& req) {
  if (current_) current_->close_requested = true;
  // httplib writes Connection: close when the request asked for it; the Request is httplib's
  // own non-const object, so writing to it is defined.
  auto& headers = const_cast<httplib::Request&>(req).headers;
  headers.erase("Connection");
  headers.emplace("Connection", "close");
}

bool GuardedServer::check_before_body(const httplib::Request& req, httplib::Response& res) {
  BodyHeaders body;
  auto values = [&req](const char* name) {
    std::vector<std::string> found;
    auto range = req.headers.equal_range(name);
    for (auto it = range.first; it != range.second; ++it) found.push_back(it->second);
    return found;
  };
  body.content_length = values("Content-Length");
  body.transfer_encoding = values("Transfer-Encoding");
  body.content_encoding = values("Content-Encoding");
  if (auto refusal = check_body_headers(body, max_body_)) {
    refuse(*refusal, res);
    close_after_response(req);
    return true;
  }
  // RFC 9112 6.3: a request with neither Content-Length nor Transfer-Encoding has no body.
  // httplib 0.11 reads one until the client closes instead (a bare `curl -X POST` waited for
  // the read timeout), so such a request is given the length it has. The Request is httplib's
  // own non-const object, so writing to it is defined.
  if (body.content_length.empty() && body.transfer_encoding.empty())
    const_cast<httplib::Request&>(req).headers.emplace("Content-Length", "0");
  if (before_body_ && before_body_(req, res) == HandlerResponse::Handled) {
    if (body.declares_body()) close_after_response(req);
    return true;
  }
  if (budget_ && body.declares_body() && current_ && current_->body_lease.bytes() == 0) {
    uint64_t bytes = max_body_;
    if (!body.content_length.empty()) bytes = std::stoull(body.content_length.front());
    if (!budget_->try_reserve(bytes)) {
      refuse(memory_budget_refusal(), res);
      close_after_response(req);
      return true;
    }
    current_->body_lease = common::BudgetLease(*budget_, bytes);
  }
  return false;
}

void GuardedServer::install(HandlerWithResponse before_body, HandlerWithResponse error,
                            Render render) {
  before_body_ = std::move(before_body);
  error_ = std::move(error);
  if (render) render_ = std::move(render);
  set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return check_before_body(req, res) ? HandlerResponse::Handled : HandlerResponse::Unhandled;
  });
  // RFC 9110 10.1.1: a request that will be refused is answered instead of 100 Continue.
  set_expect_100_continue_handler([this](const httplib::Request& req, httplib::Response& res) {
    return check_before_body(req, res) ? res.status : 100;
  });
  // The body's reservation ends once the handler has answered (the body is no longer needed).
  set_post_routing_handler([](const httplib::Request&, httplib::Response&) {
    if (current_) current_->body_lease.reset();
  });
  set_error_handler(
      HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
        Connection* connection = current_;
        if (connection && connection->cut) {  // httplib saw a failed read: say which limit
          refuse(*connection->cut, res);
          close_after_response(req);
          return HandlerResponse::Handled;
        }
        if (connection) connection->error_status = res.status;
        return error_ ? error_(req, res) : HandlerResponse::Unhandled;
      }));
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
  Connection connection(sock, *this);
  current_ = &connection;
  bool ret = false;
  for (size_t left = keep_alive_max_count_; left > 0 && svr_sock_ != INVALID_SOCKET; --left) {
    if (!connection.await_request(keep_alive_timeout_sec_)) break;
    auto head = connection.read_head();
    if (head == Connection::Head::closed) break;
    if (head == Connection::Head::refused) {
      httplib::Response res;
      refuse(connection.head_refusal(), res);
      connection.answer(res, connection.head_refusal().title);
      connection.linger();
      break;
    }
    bool connection_closed = false;
    ret = process_request(connection, left == 1, connection_closed,
                          [&connection](httplib::Request& req) { connection.begin(req); });
    if (!ret) break;
    if (!connection.reusable()) {
      connection.linger();
      break;
    }
    if (connection_closed) break;
  }
  connection.body_lease.reset();
  current_ = nullptr;
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ret;
}

}  // namespace obs
