// Helpers for the store tests: a temporary folder per test, messages with awkward bytes, and a
// raw sqlite3 connection to check what is really on disk (as other tools would read it).
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/store.h"

namespace store_test {

// A fresh folder under the test temp dir, removed with everything in it when the object dies.
class TempFolder {
 public:
  TempFolder();
  ~TempFolder();
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Bytes derived from the id: NUL, bare CR, bare LF, CRLF.CRLF, every 8-bit value; the length
// varies with the id between about 300 bytes and 8 KiB.
std::string awkward_bytes(const std::string& id);
// A message with a new UUIDv7 id, two recipients and one delivery per endpoint given.
store::InboundMessage make_message(const std::string& data, int endpoints = 1);

// A message with `endpoints` deliveries, each with recipients of its own, and awkward bytes.
store::InboundMessage fan_out_message(const std::string& seed, int endpoints);

constexpr auto kWait = std::chrono::seconds(60);  // a bound for a hang, never reached when green
constexpr int64_t kFarFuture = 4102444800000;     // 2100-01-01: every queued row is due

// Enqueues every message without waiting (so that a held writer commits them as one group) and
// returns their statuses once all are done; `on_done(i)` runs inside message i's done.
std::vector<store::Status> enqueue_all(store::Store& db,
                                       const std::vector<store::InboundMessage>& messages,
                                       std::function<void(size_t)> on_done = {});
// The job is the message's delivery number `delivery`, claimed (in_flight) with `attempts`, and
// carries the message's time, envelope and exact bytes.
void expect_job_of(const store::DeliveryJob& job, const store::InboundMessage& message,
                   size_t delivery, int attempts);

// A store opened on a fresh temporary folder (a failed open is a test failure).
struct OpenedStore {
  TempFolder folder;
  store::Options options;
  std::unique_ptr<store::Store> db;
  OpenedStore();
};

// Direct SQL on the database file, bypassing the Store.
std::optional<int64_t> sql_int(const std::string& db_path, const std::string& sql);
std::optional<std::string> sql_text(const std::string& db_path, const std::string& sql);
bool sql_exec(const std::string& db_path, const std::string& sql);

}  // namespace store_test
