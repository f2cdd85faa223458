// One client connection's byte I/O for the SMTP session: a TCP socket that may switch to TLS
// (STARTTLS) or start in it (implicit TLS), a bounded input buffer with CRLF line reading,
// exact-length reads (BDAT), batched replies, and a per-operation deadline enforced by a
// watchdog on the connection's executor. Internal to src/smtp/ (Asio in the interface).
#pragma once
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "smtp/received.h"

namespace smtp {

enum class ReadStatus {
  ok,
  too_long,   // read_line: the line passed its limit; the rest of it is skipped by the next call
  closed,     // end of stream or a socket/TLS error
  timeout,    // the deadline passed (no byte for `timeout` while waiting)
  cancelled,  // interrupt() was called (server shutdown)
  too_slow,   // the data clock ran out (start_data_clock): below min_data_rate or past the
              // transaction's deadline
};

class Connection {
 public:
  using Duration = std::chrono::steady_clock::duration;

  Connection(asio::ip::tcp::socket socket, asio::ssl::context& tls);

  asio::any_io_executor executor() { return socket_.get_executor(); }
  const std::string& remote_ip() const { return remote_ip_; }
  uint16_t remote_port() const { return remote_port_; }
  bool tls_active() const { return tls_; }
  std::optional<TlsInfo> tls_info();

  // The time each following read or write may take before it fails with `timeout`.
  void set_timeout(Duration timeout) { timeout_ = timeout; }
  // While no I/O is pending (e.g. waiting for the store), suspend the deadline.
  void suspend_deadline();
  // DATA and BDAT (SMTP.md "Limits"): until stop_data_clock(), every read and write must also
  // end before the data clock runs out: `total` after this call at the latest and, when
  // min_rate > 0, never more than `slack` behind a transfer at min_rate bytes/s (each byte
  // received earns 1/min_rate s, banked up to `slack`, so a burst buys no later trickle).
  // Past it the operation fails with too_slow.
  void start_data_clock(uint64_t min_rate, Duration slack, Duration total);
  void stop_data_clock() { clock_.reset(); }
  // Runs until close(); co_spawn it next to the session on the same executor.
  asio::awaitable<void> watchdog();
  // Aborts the pending read or write and every later read (reported as `cancelled`): for good,
  // so an interrupt that finds no read pending is not lost. Call on the executor.
  void interrupt();

  // Reads one line ending in CRLF, returned without it. Lines longer than `limit` bytes
  // (including CRLF; `auth_limit` for lines starting "AUTH ", RFC 4954 4) return too_long at
  // once and their remainder is discarded as it arrives, never buffered.
  asio::awaitable<ReadStatus> read_line(std::string& line, size_t limit, size_t auth_limit);
  // Hands exactly `count` bytes to `sink` as they arrive (BDAT, RFC 3030 2).
  asio::awaitable<ReadStatus> read_exact(uint64_t count,
                                         const std::function<void(std::string_view)>& sink);
  // Offers buffered bytes to `consume`, which returns how many it took; reads more until
  // `consume` reports it is done (DATA).
  asio::awaitable<ReadStatus> read_until(
      const std::function<bool(std::string_view, size_t&)>& consume);
  // Waits until the client sends something (before the greeting, greet_delay).
  asio::awaitable<ReadStatus> wait_readable();

  // True when the client has sent bytes we have not consumed: in our buffer, in OpenSSL's,
  // or in the kernel's (RFC 2920 synchronisation checks).
  bool input_pending();
  // Forgets every buffered input byte (STARTTLS, CVE-2011-0411).
  void discard_input();

  // Queues a reply; queued replies go out in one write before the next read (RFC 2920 3.2).
  void queue(std::string_view bytes) { out_.append(bytes); }
  asio::awaitable<bool> flush();
  // Server side TLS handshake; afterwards reads and writes go through TLS.
  asio::awaitable<bool> handshake();
  // Sends what is queued, half-closes, drains briefly (so that the peer reads our last reply
  // instead of a reset) and closes. Idempotent.
  asio::awaitable<void> close();
  bool is_closed() const { return closed_; }

 private:
  void arm();
  void earn(size_t bytes);
  ReadStatus failure(const asio::error_code& ec) const;
  asio::awaitable<ReadStatus> fill();
  std::string_view buffered() const { return std::string_view(in_).substr(pos_); }
  void consume(size_t count);

  asio::ip::tcp::socket socket_;
  asio::ssl::context& tls_context_;
  // Made by the first handshake(): most sessions never start TLS, and an ssl::stream is an SSL
  // object and a BIO pair (~4% of the io threads when made for every connection).
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_stream_;
  asio::steady_timer timer_;
  std::string remote_ip_;
  uint16_t remote_port_ = 0;
  bool tls_ = false;
  bool closed_ = false;
  bool timed_out_ = false;
  bool interrupted_ = false;
  bool data_limited_ = false;  // deadline_ is the data clock's, not the per-operation timeout
  bool discarding_ = false;    // skipping the rest of an overlong line
  Duration timeout_ = std::chrono::minutes(5);
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  struct DataClock {
    uint64_t min_rate;
    Duration slack;
    std::chrono::steady_clock::time_point credit;  // behind min_rate from here on
    std::chrono::steady_clock::time_point end;     // the transaction's deadline
  };
  std::optional<DataClock> clock_;
  std::string in_;
  size_t pos_ = 0;
  // Each read lands here first: growing in_ by a whole read chunk would zero-fill it every time.
  std::unique_ptr<char[]> chunk_;
  std::string out_;
};

}  // namespace smtp
