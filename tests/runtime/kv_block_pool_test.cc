#include "runtime/kv_block_pool.h"

#include <gtest/gtest.h>

namespace medassist::runtime {
namespace {

TEST(KvBlockPoolTest, AllocatesAllOrNothingAndReusesFreedBlocks) {
  KvBlockPool pool(4);
  std::vector<int32_t> a, b;
  ASSERT_TRUE(pool.Allocate(3, &a));
  EXPECT_EQ(a, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_FALSE(pool.Allocate(2, &b));  // only one left: nothing taken
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(pool.n_free(), 1);
  pool.Release(a);
  EXPECT_EQ(pool.n_free(), 4);
  ASSERT_TRUE(pool.Allocate(4, &b));
  EXPECT_EQ(pool.n_used(), 4);
}

TEST(KvBlockPoolTest, SharedBlocksFreeWithTheirLastOwner) {
  KvBlockPool pool(2);
  std::vector<int32_t> a;
  ASSERT_TRUE(pool.Allocate(1, &a));
  pool.Retain(a[0]);
  EXPECT_EQ(pool.ref_count(a[0]), 2);
  pool.Release(a[0]);
  EXPECT_EQ(pool.n_free(), 1);
  pool.Release(a[0]);
  EXPECT_EQ(pool.n_free(), 2);
  EXPECT_EQ(pool.ref_count(a[0]), 0);
}

TEST(KvBlockPoolDeathTest, ReleasingAFreeBlockIsABug) {
  KvBlockPool pool(1);
  EXPECT_DEATH(pool.Release(0), "");
}

}  // namespace
}  // namespace medassist::runtime
