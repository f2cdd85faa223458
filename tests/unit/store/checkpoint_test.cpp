// The WAL checkpointer (store/sqlite/checkpointer.h) against a real SQLite file: checkpoints run
// off the writer thread and keep the WAL from growing with the amount written, and every byte
// committed is still there after a reopen.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "store/sqlite/checkpointer.h"
#include "store_test_support.h"

namespace {

using store_test::OpenedStore;

uint64_t wal_bytes(const std::string& db_path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(db_path + "-wal", ec);
  return ec ? 0 : size;
}

TEST(Checkpointer, KeepsTheWalBoundedWhileMuchMoreIsWritten) {
  OpenedStore opened;
  const std::string data(64 * 1024, 'x');  // 16+ pages of 4 KiB each
  std::vector<std::string> ids;
  uint64_t largest_wal = 0;
  // 640 messages of 64 KiB: about 40 MiB, ten times the pages that ask for a checkpoint.
  for (int i = 0; i < 640; ++i) {
    store::InboundMessage message = store_test::make_message(data + std::to_string(i));
    ids.push_back(message.id);
    ASSERT_EQ(opened.db->enqueue_inbound_wait(std::move(message)), store::Status::ok);
    largest_wal = std::max(largest_wal, wal_bytes(opened.options.path));
  }
  // Without checkpoints the WAL would hold all 40 MiB. The checkpointer copies beside the
  // writer, and the writer finishes the job past kWriterPages (2 x kPages, ~8 MiB), after which
  // the WAL starts over: it never holds much more than that.
  const uint64_t threshold = static_cast<uint64_t>(store::sqlite::Checkpointer::kPages) * 4096;
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

}  // namespace
