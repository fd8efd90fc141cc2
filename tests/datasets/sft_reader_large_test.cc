// A generated JSON array the size of medical_o1_sft.json (74,078,226 bytes, the file users train
// on) streams through the reader in bounded memory: peak RSS grows by far less than the file.
#include <sys/resource.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "datasets/sft_reader.h"
#include "support/test_support.h"

namespace medassist::datasets {
namespace {

int64_t PeakRssBytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<int64_t>(u.ru_maxrss) * 1024;
}

// Rows like the real ones (question ~300 B, reasoning ~2.2 kB, response ~600 B), written
// straight to disk.
int64_t WriteLargeFile(const std::string& path, int64_t target_bytes) {
  std::ofstream out(path, std::ios::binary);
  out << "[\n";
  int64_t written = 2, rows = 0;
  while (written < target_bytes) {
    nlohmann::json row = {{"Question", "Question " + std::to_string(rows) + std::string(300, 'q')},
                          {"Complex_CoT", std::string(2200, 'c')},
                          {"Response", std::string(600, 'r')}};
    std::string text = (rows == 0 ? "  " : ",\n  ") + row.dump();
    out << text;
    written += static_cast<int64_t>(text.size());
    ++rows;
  }
  out << "\n]\n";
  return rows;
}

TEST(SftReaderLargeTest, A74MegabyteFileStreamsInBoundedMemory) {
  medassist::testing::TempDir dir;
  const std::string path = dir.path() + "/medical_o1_sft.json";
  const int64_t rows_written = WriteLargeFile(path, 74'078'226);
  const int64_t peak_before = PeakRssBytes();
  int64_t rows = 0, chars = 0;
  Result<SftReadStats> s = ReadSftRows(path, {}, [&](SftRow r) {
    ++rows;
    chars += static_cast<int64_t>(r.question.size() + r.reasoning.size() + r.response.size());
    return true;
  });
  const int64_t growth = PeakRssBytes() - peak_before;
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(rows, rows_written);
  EXPECT_EQ(s->skipped, 0);
  EXPECT_GE(s->bytes, 74'000'000);
  EXPECT_GT(chars, 70'000'000);
  // The file is 74 MB; holding it (or its parsed tree) would grow the peak by 74-300 MB.
  EXPECT_LT(growth, 16 << 20) << "peak RSS grew by " << growth << " bytes";
}

}  // namespace
}  // namespace medassist::datasets
