// The DATA/BDAT data clock of Connection (start_data_clock) over a real loopback socket: a client
// that trickles below min_data_rate, or whose transfer outlasts the transaction's deadline, ends
// the read with too_slow however regularly its bytes arrive; a client at a good rate does not.
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "smtp/connection.h"

namespace smtp {
namespace {

using namespace std::chrono_literals;
constexpr auto use_nothrow = asio::experimental::as_tuple(asio::use_awaitable);

struct Clocked {
  asio::io_context io;
  asio::ssl::context tls{asio::ssl::context::tls_server};
  asio::ip::tcp::socket client{io};
  std::optional<Connection> server;
  std::chrono::steady_clock::duration took{};

  Clocked() {
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    client.connect(acceptor.local_endpoint());
    server.emplace(acceptor.accept(), tls);
    server->set_timeout(5min);  // the per-read timeout never fires in these tests
  }

  // The client sends `burst` bytes, then `chunk` bytes every `every`, `count` times, then the
  // terminator "\r\n.\r\n" when `finish`.
  asio::awaitable<void> send(size_t burst, size_t chunk, std::chrono::milliseconds every, int count,
                             bool finish) {
    asio::steady_timer timer(io);
    std::string bytes(burst, 'b');
    co_await asio::async_write(client, asio::buffer(bytes), use_nothrow);
    for (int i = 0; i < count; ++i) {
      timer.expires_after(every);
      co_await timer.async_wait(use_nothrow);
      bytes.assign(chunk, 't');
      auto [ec, n] = co_await asio::async_write(client, asio::buffer(bytes), use_nothrow);
      if (ec) co_return;
    }
    if (finish) co_await asio::async_write(client, asio::buffer("\r\n.\r\n", 5), use_nothrow);
  }

  // Reads DATA-style until "\r\n.\r\n"; nullopt if nothing ended the read within 10 s.
  std::optional<ReadStatus> read_data() {
    std::optional<ReadStatus> result;
    asio::co_spawn(io, server->watchdog(), asio::detached);
    auto start = std::chrono::steady_clock::now();
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          std::string seen;
          const std::function<bool(std::string_view, size_t&)> consume = [&](std::string_view bytes,
                                                                             size_t& used) {
            used = bytes.size();
            seen.append(bytes.substr(bytes.size() > 5 ? bytes.size() - 5 : 0));
            if (seen.size() > 5) seen.erase(0, seen.size() - 5);
            return seen == "\r\n.\r\n";
          };
          result = co_await server->read_until(consume);
          took = std::chrono::steady_clock::now() - start;
          io.stop();
        },
        asio::detached);
    io.run_for(10s);
    return result;
  }
};

TEST(DataClock, TrickleBelowTheMinimumRateIsTooSlowThoughEveryReadIsPrompt) {
  Clocked c;
  c.server->start_data_clock(1000, 300ms, 1h);  // 1000 B/s, at most 300 ms behind
  asio::co_spawn(c.io, c.send(0, 1, 20ms, 1000, false), asio::detached);  // 50 B/s
  auto status = c.read_data();
  ASSERT_TRUE(status.has_value()) << "a byte every 20 ms kept the read going";
  EXPECT_EQ(*status, ReadStatus::too_slow);
  EXPECT_GE(c.took, 280ms);
}

TEST(DataClock, ABurstBuysNoMoreThanTheSlack) {
  Clocked c;
  c.server->start_data_clock(1000, 300ms, 1h);
  // 1 MiB would be 17 minutes of credit at 1000 B/s; the bank holds 300 ms of it.
  asio::co_spawn(c.io, c.send(1 << 20, 1, 20ms, 1000, false), asio::detached);
  auto status = c.read_data();
  ASSERT_TRUE(status.has_value()) << "the burst bought the trickle time";
  EXPECT_EQ(*status, ReadStatus::too_slow);
}

TEST(DataClock, TheTransactionDeadlineEndsEvenAFastTransfer) {
  Clocked c;
  c.server->start_data_clock(0, 300ms, 400ms);  // no rate, 400 ms in all
  asio::co_spawn(c.io, c.send(0, 4096, 5ms, 100000, false), asio::detached);  // ~800 KB/s
  auto status = c.read_data();
  ASSERT_TRUE(status.has_value()) << "the transfer outlasted the transaction's deadline";
  EXPECT_EQ(*status, ReadStatus::too_slow);
  EXPECT_GE(c.took, 380ms);
}

TEST(DataClock, AClientAboveTheRateFinishes) {
  Clocked c;
  c.server->start_data_clock(1000, 300ms, 1h);
  asio::co_spawn(c.io, c.send(0, 200, 20ms, 40, true), asio::detached);  // 10000 B/s for 0.8 s
  auto status = c.read_data();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, ReadStatus::ok);
}

TEST(DataClock, StoppedClockLeavesOnlyThePerReadTimeout) {
  Clocked c;
  c.server->start_data_clock(1000, 300ms, 400ms);
  c.server->stop_data_clock();
  asio::co_spawn(c.io, c.send(0, 1, 20ms, 40, true), asio::detached);  // 50 B/s for 0.8 s
  auto status = c.read_data();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, ReadStatus::ok);
}

}  // namespace
}  // namespace smtp
