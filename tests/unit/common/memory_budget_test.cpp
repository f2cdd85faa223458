// The process-wide memory budget: reservations, waits for room, and the default sized from the
// container's cgroup memory limit (v2 memory.max, v1 memory.limit_in_bytes).
#include "common/memory_budget.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
constexpr uint64_t kMiB = uint64_t(1) << 20;

TEST(MemoryBudget, refuses_what_does_not_fit_and_takes_it_after_a_release) {
  common::MemoryBudget budget(100);
  EXPECT_TRUE(budget.try_reserve(60));
  EXPECT_FALSE(budget.try_reserve(41));
  EXPECT_EQ(budget.used(), 60u);
  EXPECT_TRUE(budget.try_reserve(40));
  EXPECT_TRUE(budget.exhausted());
  budget.release(60);
  EXPECT_TRUE(budget.try_reserve(41));
  EXPECT_EQ(budget.used(), 81u);
}

TEST(MemoryBudget, a_lease_gives_its_bytes_back) {
  common::MemoryBudget budget(100);
  {
    ASSERT_TRUE(budget.try_reserve(70));
    common::BudgetLease lease(budget, 70);
    common::BudgetLease moved = std::move(lease);
    EXPECT_EQ(budget.used(), 70u);
  }
  EXPECT_EQ(budget.used(), 0u);
}

TEST(MemoryBudget, a_waiter_gets_its_bytes_when_another_releases) {
  common::MemoryBudget budget(100);
  ASSERT_TRUE(budget.try_reserve(90));
  std::thread releaser([&] {
    std::this_thread::sleep_for(50ms);
    budget.release(90);
  });
  EXPECT_TRUE(budget.reserve_wait(50, std::chrono::steady_clock::now() + 10s));
  releaser.join();
  EXPECT_EQ(budget.used(), 50u);
}

TEST(MemoryBudget, a_waiter_gives_up_at_its_deadline) {
  common::MemoryBudget budget(100);
  ASSERT_TRUE(budget.try_reserve(90));
  EXPECT_FALSE(budget.reserve_wait(50, std::chrono::steady_clock::now() + 20ms));
  EXPECT_EQ(budget.used(), 90u);
}

TEST(MemoryBudget, a_request_larger_than_the_budget_runs_alone) {
  common::MemoryBudget budget(100);
  EXPECT_FALSE(budget.try_reserve(500));
  EXPECT_TRUE(budget.reserve_wait(500, std::chrono::steady_clock::now() + 1s));
  EXPECT_FALSE(budget.try_reserve(1));
  budget.release(500);
  ASSERT_TRUE(budget.try_reserve(1));
  EXPECT_FALSE(budget.reserve_wait(500, std::chrono::steady_clock::now() + 20ms));
}

class CgroupLimit : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("cgroup-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(root_ / "memory");
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(root_ / name) << text;
  }
  fs::path root_;
};

TEST_F(CgroupLimit, reads_cgroup_v2_memory_max) {
  write("memory.max", "536870912\n");
  EXPECT_EQ(common::cgroup_memory_limit(root_), 512 * kMiB);
  EXPECT_EQ(common::default_memory_budget(common::cgroup_memory_limit(root_)), 256 * kMiB);
}

TEST_F(CgroupLimit, v2_max_means_no_limit) {
  write("memory.max", "max\n");
  EXPECT_EQ(common::cgroup_memory_limit(root_), std::nullopt);
  EXPECT_EQ(common::default_memory_budget(std::nullopt), common::kDefaultMemoryBudget);
}

TEST_F(CgroupLimit, falls_back_to_cgroup_v1_and_its_unlimited_value) {
  write("memory/memory.limit_in_bytes", "268435456\n");
  EXPECT_EQ(common::cgroup_memory_limit(root_), 256 * kMiB);
  write("memory/memory.limit_in_bytes", "9223372036854771712\n");
  EXPECT_EQ(common::cgroup_memory_limit(root_), std::nullopt);
}

TEST_F(CgroupLimit, a_tiny_limit_still_leaves_a_minimum_budget) {
  EXPECT_EQ(common::default_memory_budget(16 * kMiB), common::kMinimumMemoryBudget);
}

}  // namespace
