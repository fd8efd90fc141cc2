#include "train/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace medassist::train {
namespace {

uint32_t Scalar(const std::string& s) {
  return Crc32cExtendScalar(0, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
uint32_t Sse42(const std::string& s) {
  return Crc32cExtendSse42(0, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::string Ascending(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>(i));
  return s;
}

// The check value of the CRC catalogue and the test vectors of RFC 3720 (iSCSI) appendix B.4.
struct KnownVector {
  std::string input;
  uint32_t crc;
};
std::vector<KnownVector> KnownVectors() {
  std::string descending;
  for (int i = 31; i >= 0; --i) descending.push_back(static_cast<char>(i));
  return {{"", 0u},
          {"123456789", 0xE3069283u},
          {std::string(32, '\0'), 0x8A9136AAu},
          {std::string(32, '\xFF'), 0x62A8AB43u},
          {Ascending(32), 0x46DD794Eu},
          {descending, 0x113FDB5Cu}};
}

TEST(Crc32cTest, ScalarMatchesKnownVectors) {
  for (const KnownVector& v : KnownVectors()) {
    EXPECT_EQ(Scalar(v.input), v.crc) << "input of " << v.input.size() << " bytes";
    EXPECT_EQ(Crc32c(v.input), v.crc);
  }
}

TEST(Crc32cTest, Sse42MatchesKnownVectors) {
  if (!Crc32cHasSse42()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  for (const KnownVector& v : KnownVectors()) EXPECT_EQ(Sse42(v.input), v.crc);
}

TEST(Crc32cTest, Sse42MatchesScalarOnOddSizesAndOffsets) {
  if (!Crc32cHasSse42()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  std::mt19937 rng(7);
  std::vector<uint8_t> data(600);
  for (uint8_t& b : data) b = static_cast<uint8_t>(rng());
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t n = 0; n + offset <= 300; n += (n < 40 ? 1 : 37)) {
      const uint8_t* p = data.data() + offset;
      ASSERT_EQ(Crc32cExtendSse42(0x1234567u, p, n), Crc32cExtendScalar(0x1234567u, p, n))
          << "offset " << offset << " size " << n;
    }
  }
}

TEST(Crc32cTest, ExtendContinuesACrc) {
  std::string a = "TFRecord framing ", b = "checks each record twice";
  uint32_t whole = Crc32c(a + b);
  uint32_t first = Crc32c(a);
  EXPECT_EQ(Crc32cExtend(first, reinterpret_cast<const uint8_t*>(b.data()), b.size()), whole);
  EXPECT_EQ(Crc32cExtendScalar(first, reinterpret_cast<const uint8_t*>(b.data()), b.size()), whole);
}

TEST(Crc32cTest, MaskIsTfRecordsRotateAndAdd) {
  EXPECT_EQ(MaskCrc32c(0), 0xa282ead8u);
  // ((0xE3069283 >> 15) | (0xE3069283 << 17)) + 0xa282ead8, mod 2^32, computed apart.
  EXPECT_EQ(MaskCrc32c(0xE3069283u), 0xc78ab0e5u);
  for (uint32_t crc : {0u, 1u, 0xE3069283u, 0xFFFFFFFFu, 0x8000'0000u}) {
    EXPECT_EQ(UnmaskCrc32c(MaskCrc32c(crc)), crc);
  }
}

}  // namespace
}  // namespace medassist::train
