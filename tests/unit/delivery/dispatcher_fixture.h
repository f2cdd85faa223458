// The dispatcher tests' fixture: a real SQLite store in a temp folder, a config with one catch-all
// route and short retries, a real dispatcher started on demand, and the rows' states read back.
#pragma once
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/time.h"
#include "config/config.h"
#include "delivery/dispatcher.h"
#include "dispatcher_test_support.h"
#include "obs/metrics.h"
#include "store/store.h"
#include "store_test_support.h"

namespace dispatcher_test {

using namespace std::chrono_literals;
inline const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

inline int64_t now_ms() {
  return common::unix_ms(common::Clock::now());
}

class DispatcherTest : public testing::Test {
 protected:
  void SetUp() override {
    cfg_.delivery.workers = 4;
    cfg_.delivery.retry = {100ms, 400ms, 1h};
    cfg_.routes = {config::Route{{"*"}, {}, false, 10 * config::kMiB}};
    open_store({});
  }
  // (Re)opens the store on the same file with `options` (path and on_commit are set here).
  void open_store(store::Options options) {
    if (store_) store_->close();
    store_.reset();
    options.path = folder_.file("smtp-bridge.db");
    options.on_commit = [this](double, size_t, store::Status status) {
      if (status == store::Status::ok && dispatcher_ != nullptr) dispatcher_.load()->notify();
    };
    std::string error;
    store_ = store::open_sqlite(options, error);
    ASSERT_NE(store_, nullptr) << error;
  }
  void TearDown() override { stop(); }

  // Adds an endpoint to the catch-all route; returns its URL.
  std::string add_endpoint(int port, std::chrono::milliseconds timeout = 5s,
                           std::vector<std::string> secrets = {kSecret}) {
    std::string url = "http://127.0.0.1:" + std::to_string(port) + "/hook?token=s3cret";
    cfg_.routes[0].endpoints.push_back(
        config::Endpoint{url, secrets, timeout, {{"X-Tenant", "acme"}}});
    return url;
  }

  void start() {
    owned_ = std::make_unique<delivery::Dispatcher>(cfg_, *store_, registry_);
    owned_->start();
    dispatcher_ = owned_.get();
  }
  void stop() {
    dispatcher_ = nullptr;
    if (owned_) owned_->stop();
    owned_.reset();
  }

  // Stores a message with one delivery per URL; returns its id.
  std::string send(
      const std::vector<std::string>& urls, int64_t received_at_ms = now_ms(),
      std::string data = "From: alice@sender.example\r\nSubject: hello\r\n\r\nbody text\r\n") {
    store::InboundMessage message;
    message.id = common::uuid_v7();
    message.received_at_ms = received_at_ms;
    message.mail_from = "alice@sender.example";
    message.rcpt_to = {"bob@bridge.example", "carol@bridge.example"};
    message.envelope_json =
        R"({"mail_from":"alice@sender.example","rcpt_to":["bob@bridge.example","carol@bridge.example"],)"
        R"("params":{"size":60,"body":null,"smtputf8":false},"helo":"client.example",)"
        R"("client":{"ip":"127.0.0.1","port":40000},"tls":null,"auth":null})";
    message.data = std::move(data);
    for (const auto& url : urls) message.deliveries.push_back({url, {"bob@bridge.example"}});
    EXPECT_EQ(store_->enqueue_inbound_wait(message), store::Status::ok);
    return message.id;
  }

  // The delivery row of message `id` for `url`.
  store::DeliveryRow row(const std::string& id, const std::string& url) {
    auto found = store_->find_inbound(id);
    if (!found) return {};
    for (const auto& delivery : found->deliveries) {
      if (delivery.endpoint == url) return delivery;
    }
    return {};
  }
  bool state_is(const std::string& id, const std::string& url, const std::string& state) {
    return row(id, url).state == state;
  }
  std::string last_error(const std::string& id) {
    return store_test::sql_text(
               folder_.file("smtp-bridge.db"),
               "SELECT last_error FROM inbound_deliveries WHERE message_id='" + id + "'")
        .value_or("<none>");
  }

  store_test::TempFolder folder_;
  config::Config cfg_;
  obs::Registry registry_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<delivery::Dispatcher> owned_;
  std::atomic<delivery::Dispatcher*> dispatcher_{nullptr};
};

}  // namespace dispatcher_test
