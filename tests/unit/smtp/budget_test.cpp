// The message-buffer budget (budget.h): one client address holds at most its share, others
// still get theirs from what is left of the total, and a refusal takes nothing.
#include "smtp/budget.h"

#include <gtest/gtest.h>

namespace smtp {
namespace {

TEST(BufferBudget, one_client_stops_at_its_share_while_another_still_fits) {
  MemoryBudget total(1000);
  BufferBudget budget(total, 250);
  ClientShare greedy, other;
  EXPECT_EQ(budget.try_reserve(greedy, 200), BudgetRefusal::none);
  EXPECT_EQ(budget.try_reserve(greedy, 50), BudgetRefusal::none);
  EXPECT_EQ(budget.try_reserve(greedy, 1), BudgetRefusal::client);
  EXPECT_EQ(greedy.used.load(), 250u);
  EXPECT_EQ(total.used(), 250u);  // the refusal took nothing
  EXPECT_EQ(budget.admit(greedy, 0), BudgetRefusal::client);
  EXPECT_EQ(budget.admit(other, 250), BudgetRefusal::none);
  EXPECT_EQ(budget.try_reserve(other, 250), BudgetRefusal::none);
}

TEST(BufferBudget, the_total_still_binds_every_client_together) {
  MemoryBudget total(500);
  BufferBudget budget(total, 250);
  ClientShare a, b, c;
  EXPECT_EQ(budget.try_reserve(a, 250), BudgetRefusal::none);
  EXPECT_EQ(budget.try_reserve(b, 200), BudgetRefusal::none);
  EXPECT_EQ(budget.admit(c, 100), BudgetRefusal::total);  // a declared SIZE that cannot fit
  EXPECT_EQ(budget.admit(c, 50), BudgetRefusal::none);
  EXPECT_EQ(budget.try_reserve(c, 60), BudgetRefusal::total);
  EXPECT_EQ(c.used.load(), 0u);  // the share is given back when the total refuses
  EXPECT_EQ(budget.try_reserve(c, 50), BudgetRefusal::none);
  EXPECT_EQ(budget.admit(c, 0), BudgetRefusal::total);  // the total is used up
}

TEST(BufferBudget, release_gives_back_share_and_total) {
  MemoryBudget total(1000);
  BufferBudget budget(total, 100);
  ClientShare a;
  ASSERT_EQ(budget.try_reserve(a, 100), BudgetRefusal::none);
  EXPECT_EQ(budget.admit(a, 1), BudgetRefusal::client);
  budget.release(a, 60);
  EXPECT_EQ(a.used.load(), 40u);
  EXPECT_EQ(total.used(), 40u);
  EXPECT_EQ(budget.admit(a, 60), BudgetRefusal::none);
  EXPECT_EQ(budget.admit(a, 61), BudgetRefusal::client);
}

TEST(BufferBudget, a_declared_size_over_the_share_is_refused_at_once) {
  MemoryBudget total(1000);
  BufferBudget budget(total, 100);
  ClientShare a;
  EXPECT_EQ(budget.admit(a, 101), BudgetRefusal::client);
  EXPECT_EQ(budget.admit(a, 100), BudgetRefusal::none);
}

}  // namespace
}  // namespace smtp
