// Connection I/O for SMTP sessions. Every operation runs on the connection's executor (one io
// thread); the deadline is one timer per connection (Asio 1.22 has no cancel_after and
// ssl::stream ops do not forward per-operation cancellation, so the watchdog cancels the socket
// instead).
#include "smtp/connection.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace smtp {

namespace {
constexpr auto use_nothrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kCompactAt = 64 * 1024;
constexpr auto kCloseFlushTimeout = std::chrono::seconds(5);
constexpr auto kCloseDrainTimeout = std::chrono::seconds(2);

bool starts_with_auth(std::string_view text) {
  static constexpr std::string_view prefix = "AUTH ";
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != prefix[i]) return false;
  }
  return true;
}
}  // namespace

Connection::Connection(asio::ip::tcp::socket socket, asio::ssl::context& tls)
    : socket_(std::move(socket)), tls_context_(tls), timer_(socket_.get_executor()) {
  asio::error_code ec;
  auto endpoint = socket_.remote_endpoint(ec);
  if (!ec) {
    auto address = endpoint.address();
    if (address.is_v6() && address.to_v6().is_v4_mapped())
      address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
    remote_ip_ = address.to_string();
    remote_port_ = endpoint.port();
  }
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

std::optional<TlsInfo> Connection::tls_info() {
  if (!tls_) return std::nullopt;
  SSL* ssl = tls_stream_->native_handle();
  return TlsInfo{SSL_get_version(ssl), SSL_get_cipher_name(ssl)};
}

void Connection::arm() {
  timed_out_ = false;  // interrupted_ stays: an interrupt is for good (shutdown)
  deadline_ = std::chrono::steady_clock::now() + timeout_;
  data_limited_ = false;
  if (clock_) {
    auto limit = clock_->min_rate > 0 ? std::min(clock_->credit, clock_->end) : clock_->end;
    if (limit < deadline_) {
      deadline_ = limit;
      data_limited_ = true;
    }
  }
  // Only an earlier deadline needs the watchdog woken; a later one is picked up when the
  // timer fires at the old one.
  if (timer_.expiry() > deadline_) timer_.expires_at(deadline_);
}

void Connection::suspend_deadline() {
  deadline_ = std::chrono::steady_clock::time_point::max();
}

void Connection::start_data_clock(uint64_t min_rate, Duration slack, Duration total) {
  auto now = std::chrono::steady_clock::now();
  clock_ = DataClock{min_rate, slack, now + slack, now + total};
}

void Connection::earn(size_t bytes) {
  if (!clock_ || clock_->min_rate == 0) return;
  auto now = std::chrono::steady_clock::now();
  auto earned = std::chrono::nanoseconds(static_cast<int64_t>(
      static_cast<uint64_t>(bytes) * 1'000'000'000u / clock_->min_rate));  // bytes <= 64 KiB
  clock_->credit = std::min(clock_->credit + earned, now + clock_->slack);
}

asio::awaitable<void> Connection::watchdog() {
  while (!closed_) {
    timer_.expires_at(deadline_);
    co_await timer_.async_wait(use_nothrow);  // woken early by arm(), close() or expiry
    if (closed_) break;
    if (deadline_ <= std::chrono::steady_clock::now()) {
      timed_out_ = true;
      deadline_ = std::chrono::steady_clock::time_point::max();
      asio::error_code ignored;
      socket_.cancel(ignored);
    }
  }
}

void Connection::interrupt() {
  interrupted_ = true;
  asio::error_code ignored;
  socket_.cancel(ignored);
}

ReadStatus Connection::failure(const asio::error_code& ec) const {
  if (timed_out_) return data_limited_ ? ReadStatus::too_slow : ReadStatus::timeout;
  if (interrupted_ && ec == asio::error::operation_aborted) return ReadStatus::cancelled;
  return ReadStatus::closed;
}

void Connection::consume(size_t count) {
  pos_ += count;
  if (pos_ == in_.size()) {
    in_.clear();
    pos_ = 0;
  } else if (pos_ >= kCompactAt) {
    in_.erase(0, pos_);
    pos_ = 0;
  }
}

asio::awaitable<ReadStatus> Connection::fill() {
  if (closed_) co_return ReadStatus::closed;
  if (!out_.empty() && !co_await flush()) co_return failure({});
  // An interrupt that came while the flush was completing found no read to cancel.
  if (interrupted_) co_return ReadStatus::cancelled;
  if (!chunk_) chunk_ = std::make_unique_for_overwrite<char[]>(kReadChunk);
  arm();
  // A client that always has bytes waiting completes every read at once, before the watchdog
  // can cancel one: a spent data clock is checked here, not only by the watchdog.
  if (data_limited_ && deadline_ <= std::chrono::steady_clock::now())
    co_return ReadStatus::too_slow;
  asio::error_code ec;
  size_t n = 0;
  if (tls_)
    std::tie(ec, n) =
        co_await tls_stream_->async_read_some(asio::buffer(chunk_.get(), kReadChunk), use_nothrow);
  else
    std::tie(ec, n) =
        co_await socket_.async_read_some(asio::buffer(chunk_.get(), kReadChunk), use_nothrow);
  in_.append(chunk_.get(), n);
  earn(n);
  if (n > 0) co_return ReadStatus::ok;  // data first; an error, if any, repeats on the next read
  co_return failure(ec);
}

asio::awaitable<ReadStatus> Connection::read_line(std::string& line, size_t limit,
                                                  size_t auth_limit) {
  for (;;) {
    if (discarding_) {
      std::string_view view = buffered();
      size_t end = view.find("\r\n");
      if (end != std::string_view::npos) {
        consume(end + 2);
        discarding_ = false;
      } else {
        // Keep a trailing CR: it may be the first half of the CRLF that ends the line.
        consume(view.size() - (!view.empty() && view.back() == '\r' ? 1 : 0));
      }
    }
    if (!discarding_) {
      std::string_view view = buffered();
      size_t max = starts_with_auth(view) ? auth_limit : limit;
      size_t end = view.find("\r\n");
      if (end != std::string_view::npos) {
        if (end + 2 > max) {  // RFC 5321 4.5.3.1.4
          consume(end + 2);
          co_return ReadStatus::too_long;
        }
        line.assign(view.substr(0, end));
        consume(end + 2);
        co_return ReadStatus::ok;
      }
      if (view.size() >= max) {
        // No CRLF can end this line within the limit any more: report now, skip the rest.
        discarding_ = true;
        consume(view.size() - (view.back() == '\r' ? 1 : 0));
        co_return ReadStatus::too_long;
      }
    }
    ReadStatus status = co_await fill();
    if (status != ReadStatus::ok) co_return status;
  }
}

asio::awaitable<ReadStatus> Connection::read_exact(
    uint64_t count, const std::function<void(std::string_view)>& sink) {
  for (;;) {
    std::string_view view = buffered();
    size_t take = static_cast<size_t>(std::min<uint64_t>(count, view.size()));
    if (take > 0) {
      sink(view.substr(0, take));
      consume(take);
      count -= take;
    }
    if (count == 0) co_return ReadStatus::ok;
    ReadStatus status = co_await fill();
    if (status != ReadStatus::ok) co_return status;
  }
}

asio::awaitable<ReadStatus> Connection::read_until(
    const std::function<bool(std::string_view, size_t&)>& consume_bytes) {
  for (;;) {
    std::string_view view = buffered();
    if (!view.empty()) {
      size_t used = 0;
      bool done = consume_bytes(view, used);
      consume(used);
      if (done) co_return ReadStatus::ok;
    }
    ReadStatus status = co_await fill();
    if (status != ReadStatus::ok) co_return status;
  }
}

asio::awaitable<ReadStatus> Connection::wait_readable() {
  if (!buffered().empty()) co_return ReadStatus::ok;
  if (interrupted_) co_return ReadStatus::cancelled;
  arm();
  auto [ec] = co_await socket_.async_wait(asio::ip::tcp::socket::wait_read, use_nothrow);
  if (ec) co_return failure(ec);
  co_return ReadStatus::ok;
}

bool Connection::input_pending() {
  if (!buffered().empty()) return true;
  if (tls_ && SSL_pending(tls_stream_->native_handle()) > 0) return true;
  asio::error_code ec;
  size_t available = socket_.available(ec);
  return !ec && available > 0;
}

void Connection::discard_input() {
  in_.clear();
  pos_ = 0;
  discarding_ = false;
}

asio::awaitable<bool> Connection::flush() {
  if (closed_) co_return false;
  if (out_.empty()) co_return true;
  arm();
  asio::error_code ec;
  if (tls_)
    std::tie(ec, std::ignore) =
        co_await asio::async_write(*tls_stream_, asio::buffer(out_), use_nothrow);
  else
    std::tie(ec, std::ignore) =
        co_await asio::async_write(socket_, asio::buffer(out_), use_nothrow);
  out_.clear();
  co_return !ec;
}

asio::awaitable<bool> Connection::handshake() {
  if (!co_await flush()) co_return false;
  arm();
  if (!tls_stream_)
    tls_stream_ =
        std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, tls_context_);
  auto [ec] = co_await tls_stream_->async_handshake(asio::ssl::stream_base::server, use_nothrow);
  if (ec) co_return false;
  tls_ = true;
  co_return true;
}

asio::awaitable<void> Connection::close() {
  if (closed_) co_return;
  timeout_ = std::min<Duration>(timeout_, kCloseFlushTimeout);
  co_await flush();
  asio::error_code ignored;
  auto& socket = socket_;
  socket.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  // Drain what the client still sends so that closing does not turn into a reset that could
  // destroy our last reply in flight.
  timeout_ = kCloseDrainTimeout;
  arm();
  char scratch[4096];
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(scratch), use_nothrow);
    if (ec || n == 0) break;
    if (deadline_ <= std::chrono::steady_clock::now()) break;
  }
  closed_ = true;
  socket.close(ignored);
  timer_.cancel();
}

}  // namespace smtp
