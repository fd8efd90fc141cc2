// The catalogue of malformed safetensors files (safetensors_test_util.cc), each with the exact
// refusal it must get, plus truncation and bit-flip sweeps over a valid file, and the committed
// fuzz seed corpus.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>

#include "safetensors_test_util.h"
#include "support/test_support.h"

namespace medassist::formats {
namespace {

using safetensors_testing::AsBytes;
using safetensors_testing::MalformedSafetensors;
using safetensors_testing::MalformedSafetensorsCases;
using safetensors_testing::ParseSafetensors;
using safetensors_testing::SafetensorsFuzzSeeds;
using safetensors_testing::SmallValidSafetensors;

class SafetensorsMalformedTest : public ::testing::TestWithParam<MalformedSafetensors> {};

TEST_P(SafetensorsMalformedTest, IsRefusedWithTheExpectedError) {
  const MalformedSafetensors& c = GetParam();
  Result<SafetensorsFile> r = ParseSafetensors(c.bytes, "bad.safetensors");
  ASSERT_FALSE(r.ok()) << c.name << " was accepted";
  EXPECT_EQ(r.status().code(), c.code) << r.status().ToString();
  const std::string& m = r.status().message();
  EXPECT_EQ(m.rfind("bad.safetensors: ", 0), 0u) << "the message must start with the source: " << m;
  EXPECT_NE(m.find(c.expected), std::string::npos)
      << "case " << c.name << "\n  message:  " << m << "\n  expected: " << c.expected;
}

INSTANTIATE_TEST_SUITE_P(Catalogue, SafetensorsMalformedTest,
                         ::testing::ValuesIn(MalformedSafetensorsCases()),
                         [](const ::testing::TestParamInfo<MalformedSafetensors>& p) {
                           return p.param.name;
                         });

TEST(SafetensorsMalformedCatalogue, NamesAreUniqueAndExpectationsSet) {
  std::set<std::string> names;
  for (const MalformedSafetensors& c : MalformedSafetensorsCases()) {
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
    EXPECT_GE(c.expected.size(), 10u) << c.name << ": expect a specific message";
  }
  EXPECT_GE(names.size(), 60u);
}

TEST(SafetensorsTruncation, EveryPrefixOfAValidFileIsRefused) {
  const std::string full = SmallValidSafetensors();
  ASSERT_TRUE(ParseSafetensors(full).ok());
  // The writer leaves no bytes after the last tensor, so every shorter prefix cuts something.
  for (size_t n = 0; n < full.size(); ++n) {
    Result<SafetensorsFile> r = ParseSafetensors(full.substr(0, n), "cut.safetensors");
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes was accepted";
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
    const std::string& m = r.status().message();
    EXPECT_TRUE(m.find("too short") != std::string::npos ||
                m.find("past the end") != std::string::npos)
        << "prefix " << n << ": " << m;
  }
}

// Flipping any single bit of a valid file either still parses or is refused with a Status; under
// the debug preset's sanitizers this also proves no read outside the buffer.
TEST(SafetensorsBitFlips, NeverCrash) {
  const std::string full = SmallValidSafetensors();
  int refused = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bytes = full;
      bytes[i] = static_cast<char>(bytes[i] ^ (1 << bit));
      Result<SafetensorsFile> r = ParseSafetensors(bytes, "flip.safetensors");
      if (!r.ok()) {
        ++refused;
        EXPECT_EQ(r.status().message().rfind("flip.safetensors: ", 0), 0u);
        continue;
      }
      for (const SafetensorsTensor& t : r->tensors()) {
        EXPECT_EQ(t.data.size(), t.n_elements * SafetensorsDtypeSize(t.dtype)) << t.name;
        EXPECT_LE(t.data.data() + t.data.size(), AsBytes(bytes).data() + bytes.size()) << t.name;
      }
    }
  }
  EXPECT_GT(refused, 500);  // the length, the JSON syntax and every offset digit are sensitive
}

// The committed seed corpus is exactly what SafetensorsFuzzSeeds() makes. To regenerate it:
// MEDASSIST_REGENERATE_SAFETENSORS_SEEDS=1 ctest -R SafetensorsFuzzSeeds
TEST(SafetensorsFuzzSeeds, MatchTheCommittedCorpus) {
  const std::string dir = MEDASSIST_SAFETENSORS_SEED_DIR;
  const bool regenerate = std::getenv("MEDASSIST_REGENERATE_SAFETENSORS_SEEDS") != nullptr;
  size_t total = 0;
  for (const auto& [name, bytes] : SafetensorsFuzzSeeds()) {
    std::string path = dir;
    path += "/";
    path += name;
    if (regenerate) std::ofstream(path, std::ios::binary) << bytes;
    EXPECT_TRUE(medassist::testing::ReadFileOrFail(path) == bytes)
        << path << " is missing or stale; rerun with MEDASSIST_REGENERATE_SAFETENSORS_SEEDS=1";
    const bool valid = name.rfind("valid_", 0) == 0;
    EXPECT_EQ(ParseSafetensors(bytes, name).ok(), valid) << name;
    total += bytes.size();
  }
  EXPECT_LT(total, 50u * 1024);
}

}  // namespace
}  // namespace medassist::formats
