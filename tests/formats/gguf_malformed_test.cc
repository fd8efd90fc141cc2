// The catalogue of malformed GGUF files (gguf_test_util.cc), each with the exact refusal it must
// get, plus truncation and bit-flip sweeps over a valid file, and the committed fuzz seed corpus.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>

#include "formats/gguf_writer.h"
#include "gguf_test_util.h"
#include "support/test_support.h"

namespace medassist::formats {
namespace {

using gguf_testing::AsBytes;
using gguf_testing::GgufFuzzSeeds;
using gguf_testing::MalformedGguf;
using gguf_testing::MalformedGgufCases;
using gguf_testing::ParseGguf;

class GgufMalformedTest : public ::testing::TestWithParam<MalformedGguf> {};

TEST_P(GgufMalformedTest, IsRefusedWithTheExpectedError) {
  const MalformedGguf& c = GetParam();
  Result<GgufFile> r = ParseGguf(c.bytes, "bad.gguf");
  ASSERT_FALSE(r.ok()) << c.name << " was accepted";
  EXPECT_EQ(r.status().code(), c.code) << r.status().ToString();
  const std::string& m = r.status().message();
  EXPECT_EQ(m.rfind("bad.gguf: ", 0), 0u) << "the message must start with the source: " << m;
  EXPECT_NE(m.find(c.expected), std::string::npos)
      << "case " << c.name << "\n  message:  " << m << "\n  expected: " << c.expected;
}

INSTANTIATE_TEST_SUITE_P(Catalogue, GgufMalformedTest, ::testing::ValuesIn(MalformedGgufCases()),
                         [](const ::testing::TestParamInfo<MalformedGguf>& p) {
                           return p.param.name;
                         });

TEST(GgufMalformedCatalogue, NamesAreUnique) {
  std::set<std::string> names;
  for (const MalformedGguf& c : MalformedGgufCases()) {
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
  }
  EXPECT_GE(names.size(), 50u);
}

// A small valid file that has every section: metadata of several types, two tensors, padding.
std::string SmallValidFile() {
  GgufWriter w;
  w.AddString("general.architecture", "llama");
  w.AddStringArray("tokenizer.ggml.tokens", std::vector<std::string>{"a", "bc", ""});
  w.AddArray<uint8_t>("x.nested_source", std::vector<uint8_t>{1, 2, 3});
  w.AddFloat32("f", 1.5f);
  w.AddTensor("t0", GgmlType::kF32, std::vector<uint64_t>{3}, std::vector<uint8_t>(12, 7));
  w.AddTensor("t1", GgmlType::kQ4_0, std::vector<uint64_t>{32}, std::vector<uint8_t>(18, 9));
  return *w.WriteToString();
}

TEST(GgufTruncation, EveryPrefixOfAValidFileIsRefused) {
  const std::string full = SmallValidFile();
  ASSERT_TRUE(ParseGguf(full).ok());
  // The last tensor ends at full.size() minus its padding; any cut before that must fail.
  const size_t last_data_end = full.size() - (32 - 18);
  for (size_t n = 0; n < last_data_end; ++n) {
    Result<GgufFile> r = ParseGguf(full.substr(0, n), "cut.gguf");
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes was accepted";
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
    const std::string& m = r.status().message();
    EXPECT_TRUE(m.find("truncated") != std::string::npos ||
                m.find("past the end") != std::string::npos ||
                m.find("cannot fit") != std::string::npos ||
                m.find("bytes left can hold") != std::string::npos)
        << "prefix " << n << ": " << m;
  }
  for (size_t n = last_data_end; n <= full.size(); ++n) {
    EXPECT_TRUE(ParseGguf(full.substr(0, n)).ok()) << "padding after the last tensor is optional";
  }
}

// Flipping any single bit of a valid file either still parses or is refused with a Status; under
// the debug preset's sanitizers this also proves no read outside the buffer.
TEST(GgufBitFlips, NeverCrash) {
  const std::string full = SmallValidFile();
  int refused = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bytes = full;
      bytes[i] = static_cast<char>(bytes[i] ^ (1 << bit));
      Result<GgufFile> r = ParseGguf(bytes);
      if (!r.ok()) {
        ++refused;
        EXPECT_FALSE(r.status().message().empty());
        continue;
      }
      for (const GgufKeyValue& kv : r->metadata()) (void)kv.value.Strings();
    }
  }
  EXPECT_GT(refused, 100);  // the header and the lengths are sensitive to a flipped bit
}

// The committed seed corpus is exactly what GgufFuzzSeeds() makes. To regenerate it after changing
// the writer or the catalogue: MEDASSIST_REGENERATE_GGUF_SEEDS=1 ctest -R GgufFuzzSeeds
TEST(GgufFuzzSeeds, MatchTheCommittedCorpus) {
  const std::string dir = MEDASSIST_GGUF_SEED_DIR;
  const bool regenerate = std::getenv("MEDASSIST_REGENERATE_GGUF_SEEDS") != nullptr;
  size_t total = 0;
  for (const auto& [name, bytes] : GgufFuzzSeeds()) {
    const std::string path = dir + "/" + name;
    if (regenerate) std::ofstream(path, std::ios::binary) << bytes;
    EXPECT_TRUE(medassist::testing::ReadFileOrFail(path) == bytes)
        << path << " is missing or stale; rerun with MEDASSIST_REGENERATE_GGUF_SEEDS=1";
    const bool valid = name.rfind("valid_", 0) == 0;
    EXPECT_EQ(ParseGguf(bytes, name).ok(), valid) << name;
    total += bytes.size();
  }
  EXPECT_LT(total, 200u * 1024);
}

}  // namespace
}  // namespace medassist::formats
