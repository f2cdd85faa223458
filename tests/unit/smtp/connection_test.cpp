// Connection's shutdown interrupt over a real loopback socket: an interrupt is for good, so one
// that arrives while no read is pending (e.g. while a reply is being flushed) still ends the
// next read at once, after the queued reply has gone out.
#include "smtp/connection.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <optional>

namespace smtp {
namespace {

struct Loopback {
  asio::io_context io;
  asio::ssl::context tls{asio::ssl::context::tls_server};
  asio::ip::tcp::socket client{io};
  std::optional<Connection> server;

  Loopback() {
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    client.connect(acceptor.local_endpoint());
    server.emplace(acceptor.accept(), tls);
    server->set_timeout(std::chrono::minutes(5));  // far beyond the test's own limit
  }

  // Runs `read` on the io_context for at most 10 s; nullopt if it did not finish (a hang).
  std::optional<ReadStatus> run(std::function<asio::awaitable<ReadStatus>()> read) {
    std::optional<ReadStatus> result;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { result = co_await read(); },
        [](std::exception_ptr) {});
    io.run_for(std::chrono::seconds(10));
    return result;
  }
};

TEST(ConnectionInterrupt, InterruptWithNoPendingReadCancelsTheNextReadAtOnce) {
  Loopback loop;
  loop.server->interrupt();
  std::string line;
  auto status = loop.run([&] { return loop.server->read_line(line, 512, 512); });
  ASSERT_TRUE(status.has_value()) << "read_line waited for a command after the interrupt";
  EXPECT_EQ(*status, ReadStatus::cancelled);
}

TEST(ConnectionInterrupt, QueuedReplyStillGoesOutBeforeTheCancelledRead) {
  Loopback loop;
  loop.server->queue("451 4.3.0 Try again later\r\n");
  loop.server->interrupt();
  std::string line;
  auto status = loop.run([&] { return loop.server->read_line(line, 512, 512); });
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, ReadStatus::cancelled);
  std::string reply(27, '\0');
  asio::read(loop.client, asio::buffer(reply));
  EXPECT_EQ(reply, "451 4.3.0 Try again later\r\n");
}

TEST(ConnectionInterrupt, WaitReadableIsCancelledToo) {
  Loopback loop;
  loop.server->interrupt();
  auto status = loop.run([&] { return loop.server->wait_readable(); });
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, ReadStatus::cancelled);
}

TEST(ConnectionInterrupt, DataAlreadyBufferedIsNotAffectedButTheFollowingReadIs) {
  Loopback loop;
  asio::write(loop.client, asio::buffer(std::string("NOOP\r\n")));
  std::string line;
  auto first = loop.run([&] { return loop.server->read_line(line, 512, 512); });
  ASSERT_EQ(first, ReadStatus::ok);
  EXPECT_EQ(line, "NOOP");
  loop.io.restart();
  loop.server->interrupt();
  auto second = loop.run([&] { return loop.server->read_line(line, 512, 512); });
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(*second, ReadStatus::cancelled);
}

}  // namespace
}  // namespace smtp
