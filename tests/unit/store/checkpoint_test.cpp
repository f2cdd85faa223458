// The WAL checkpointer (store/sqlite/checkpointer.h) against a real SQLite file: checkpoints run
// off the writer thread and keep the WAL from growing with the amount written, and every byte
// committed is still there after a reopen. Also the page size a new database gets.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <vector>

#include "store/sqlite/checkpointer.h"
#include "store/sqlite/schema.h"
#include "store_test_support.h"

namespace {

using store_test::OpenedStore;

uint64_t wal_bytes(const std::string& db_path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(db_path + "-wal", ec);
  return ec ? 0 : size;
}

TEST(Checkpointer, KeepsTheWalBoundedWhileMuchMoreIsWritten) {
  OpenedStore opened(store_test::Backend::sqlite);
  const std::string data(64 * 1024, 'x');  // 4+ pages of 16 KiB each
  std::vector<std::string> ids;
  uint64_t largest_wal = 0;
  // 640 messages of 64 KiB: about 40 MiB, ten times the WAL size that asks for a checkpoint.
  for (int i = 0; i < 640; ++i) {
    store::InboundMessage message = store_test::make_message(data + std::to_string(i));
    ids.push_back(message.id);
    ASSERT_EQ(opened.db->enqueue_inbound_wait(std::move(message)), store::Status::ok);
    largest_wal = std::max(largest_wal, wal_bytes(opened.options.path));
  }
  // Without checkpoints the WAL would hold all 40 MiB. The checkpointer copies beside the
  // writer, and the writer finishes the job past kWriterBytes (2 x kBytes, 8 MiB), after which
  // the WAL starts over: it never holds much more than that.
  const uint64_t threshold = static_cast<uint64_t>(store::sqlite::Checkpointer::kBytes);
  EXPECT_GT(largest_wal, 0u);
  EXPECT_LT(largest_wal, 4 * threshold) << "WAL reached " << largest_wal << " bytes";

  opened.db->close();
  opened.db.reset();
  std::string error;
  auto reopened = store::open_sqlite(opened.options, error);
  ASSERT_NE(reopened, nullptr) << error;
  EXPECT_EQ(reopened->count_inbound(), 640u);
  for (int i : {0, 319, 639}) {
    auto stored = reopened->find_inbound(ids[static_cast<size_t>(i)]);
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->data, data + std::to_string(i));
  }
}

TEST(PageSize, NewDatabasesGetTheLargerPagesAndOlderOnesKeepTheirs) {
  OpenedStore fresh(store_test::Backend::sqlite);
  EXPECT_EQ(store_test::sql_int(fresh.options.path, "PRAGMA page_size"), store::sqlite::kPageSize);

  // A database an older build created, with SQLite's default 4 KiB pages.
  store_test::TempFolder folder;
  store::Options options;
  options.path = folder.file("older.db");
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(options.path.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(raw, "PRAGMA page_size=4096; PRAGMA journal_mode=WAL; CREATE TABLE older(x);",
                   nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(raw);
  std::string error;
  auto older = store::open_sqlite(options, error);
  ASSERT_NE(older, nullptr) << error;
  store::InboundMessage message = store_test::make_message(std::string(40 * 1024, 'o'));
  std::string id = message.id;
  ASSERT_EQ(older->enqueue_inbound_wait(std::move(message)), store::Status::ok);
  EXPECT_EQ(store_test::sql_int(options.path, "PRAGMA page_size"), 4096);
  auto stored = older->find_inbound(id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->data, std::string(40 * 1024, 'o'));
}

}  // namespace
