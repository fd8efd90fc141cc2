// Wilson 95% intervals against values computed by hand (the closed form, to 12 digits, in Python).
#include "eval/stats.h"

#include <gtest/gtest.h>

namespace medassist::eval {
namespace {

TEST(WilsonIntervalTest, HandComputedValues) {
  struct Case {
    int64_t k, n;
    double lo, hi;
  };
  const Case cases[] = {{0, 10, 0.0, 0.277532799863},
                        {5, 10, 0.236593090513, 0.763406909487},
                        {10, 10, 0.722467200137, 1.0},
                        {1, 4, 0.045587260810, 0.699358157418},
                        {25, 100, 0.175452113623, 0.343044635481},
                        {353, 1273, 0.253404018853, 0.302531452945}};
  for (const Case& c : cases) {
    Proportion p = WilsonInterval(c.k, c.n);
    EXPECT_EQ(p.k, c.k);
    EXPECT_EQ(p.n, c.n);
    EXPECT_DOUBLE_EQ(p.p, static_cast<double>(c.k) / static_cast<double>(c.n));
    EXPECT_NEAR(p.lo, c.lo, 1e-11) << c.k << "/" << c.n;
    EXPECT_NEAR(p.hi, c.hi, 1e-11) << c.k << "/" << c.n;
  }
}

TEST(WilsonIntervalTest, EmptyIsTheWholeRange) {
  Proportion p = WilsonInterval(0, 0);
  EXPECT_EQ(p.p, 0.0);
  EXPECT_EQ(p.lo, 0.0);
  EXPECT_EQ(p.hi, 1.0);
}

TEST(WilsonIntervalTest, SymmetricAroundOneHalf) {
  Proportion a = WilsonInterval(3, 20);
  Proportion b = WilsonInterval(17, 20);
  EXPECT_NEAR(a.lo, 1.0 - b.hi, 1e-12);
  EXPECT_NEAR(a.hi, 1.0 - b.lo, 1e-12);
}

}  // namespace
}  // namespace medassist::eval
