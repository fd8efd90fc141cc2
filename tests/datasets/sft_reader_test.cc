#include "datasets/sft_reader.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace medassist::datasets {
namespace {

using medassist::testing::SharedDataPath;
using medassist::testing::TempDir;

std::vector<SftRow> ReadAll(const std::string& path, const SftReadOptions& options,
                            Result<SftReadStats>* stats = nullptr) {
  std::vector<SftRow> rows;
  Result<SftReadStats> s = ReadSftRows(path, options, [&](SftRow r) {
    rows.push_back(std::move(r));
    return true;
  });
  if (stats != nullptr) *stats = s;
  return rows;
}

TEST(SftReaderTest, ReadsTheDemoRowsAsJsonLinesAndAsAJsonArray) {
  Result<SftReadStats> lines_stats = SftReadStats{}, array_stats = SftReadStats{};
  std::vector<SftRow> lines =
      ReadAll(SharedDataPath("medical-o1-sft/huatuogpt-o1_demo_sft_198.jsonl"), {}, &lines_stats);
  // The JSON array holds the same rows plus other fields (options, answer_idx, ...) to skip.
  std::vector<SftRow> array =
      ReadAll(SharedDataPath("medical-o1-sft/huatuogpt-o1_demo_data.json"), {}, &array_stats);
  ASSERT_TRUE(lines_stats.ok()) << lines_stats.status().message();
  ASSERT_TRUE(array_stats.ok()) << array_stats.status().message();
  ASSERT_EQ(lines.size(), 198u);
  ASSERT_EQ(array.size(), 198u);
  EXPECT_EQ(lines_stats->skipped, 0);
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].question, array[i].question) << i;
    EXPECT_EQ(lines[i].reasoning, array[i].reasoning) << i;
    EXPECT_EQ(lines[i].response, array[i].response) << i;
    EXPECT_EQ(lines[i].line, static_cast<int64_t>(i) + 1);
    EXPECT_FALSE(lines[i].reasoning.empty());
  }
  EXPECT_EQ(array[0].line, 2);  // "[" is line 1
  EXPECT_GT(array[1].line, array[0].line);
  // The first row's text, as the file has it.
  nlohmann::json first = nlohmann::json::parse(
      medassist::testing::ReadFileOrFail(
          SharedDataPath("medical-o1-sft/huatuogpt-o1_demo_sft_198.jsonl"))
          .substr(0, medassist::testing::ReadFileOrFail(
                         SharedDataPath("medical-o1-sft/huatuogpt-o1_demo_sft_198.jsonl"))
                         .find('\n')));
  EXPECT_EQ(lines[0].question, first["Question"]);
}

TEST(SftReaderTest, FieldNamesAreConfigurable) {
  TempDir dir;
  std::string path = dir.WriteFile("rows.jsonl", R"({"q":"a","cot":"b","r":"c"})"
                                                 "\n");
  SftReadOptions o{.fields = {.question = "q", .reasoning = "cot", .response = "r"}};
  std::vector<SftRow> rows = ReadAll(path, o);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].question, "a");
  EXPECT_EQ(rows[0].reasoning, "b");
  EXPECT_EQ(rows[0].response, "c");
}

constexpr const char* kGood = R"({"Question":"q","Complex_CoT":"c","Response":"r"})";

TEST(SftReaderTest, MalformedJsonLinesAreSkippedWithTheirLineOrRefused) {
  TempDir dir;
  std::string path = dir.WriteFile(
      "rows.jsonl", std::string(kGood) + "\n" + R"({"Question":"q","Response":"r"})" + "\n\n" +
                        R"({"Question":1,"Complex_CoT":"c","Response":"r"})" + "\n" + "not json\n" +
                        "[1,2]\n" + kGood + "\n");
  Result<SftReadStats> stats = SftReadStats{};
  std::vector<SftRow> rows = ReadAll(path, {}, &stats);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].line, 7);
  EXPECT_EQ(stats->skipped, 4);
  ASSERT_EQ(stats->problems.size(), 4u);
  EXPECT_EQ(stats->problems[0], "row 2 (line 2): field 'Complex_CoT' is missing");
  EXPECT_EQ(stats->problems[1], "row 3 (line 4): field 'Question' is not a string");
  EXPECT_EQ(stats->problems[2], "row 4 (line 5): the line is not valid JSON");
  EXPECT_EQ(stats->problems[3], "row 5 (line 6): the line is not a JSON object");

  Result<SftReadStats> refused = SftReadStats{};
  ReadAll(path, {.on_malformed = MalformedRows::kRefuse}, &refused);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(refused.status().message().find("row 2 (line 2): field 'Complex_CoT' is missing"),
            std::string::npos)
      << refused.status().message();
}

TEST(SftReaderTest, MalformedArrayRowsAreReportedWithTheirLine) {
  TempDir dir;
  std::string path = dir.WriteFile(
      "rows.json", std::string("[\n") + kGood + ",\n" + R"({"Question":"q","Complex_CoT":["x"],)" +
                       "\n" + R"("Response":"r"},)" + "\n" + "42,\n" + kGood + "\n]\n");
  Result<SftReadStats> stats = SftReadStats{};
  std::vector<SftRow> rows = ReadAll(path, {}, &stats);
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].line, 2);
  EXPECT_EQ(rows[1].line, 6);
  EXPECT_EQ(rows[1].index, 3);
  ASSERT_EQ(stats->problems.size(), 2u);
  EXPECT_EQ(stats->problems[0], "row 2 (line 3): field 'Complex_CoT' is an array, not a string");
  EXPECT_EQ(stats->problems[1], "row 3 (line 5): the row is a number, not an object");
}

TEST(SftReaderTest, BrokenJsonRefusesTheFileWithTheLine) {
  TempDir dir;
  std::string path =
      dir.WriteFile("rows.json", std::string("[\n") + kGood + ",\n" + R"({"Question": "q",)" +
                                     "\n" + R"("Complex_CoT" "c"})" + "\n]");
  int delivered = 0;
  Result<SftReadStats> s = ReadSftRows(path, {}, [&](SftRow) { return ++delivered, true; });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(delivered, 1);
  EXPECT_EQ(s.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(s.status().message().find("line 4"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find(path), std::string::npos);
}

TEST(SftReaderTest, OtherBadFiles) {
  TempDir dir;
  EXPECT_EQ(
      ReadSftRows(dir.path() + "/absent.json", {}, [](SftRow) { return true; }).status().code(),
      StatusCode::kNotFound);
  Result<SftReadStats> text =
      ReadSftRows(dir.WriteFile("x.txt", "hello"), {}, [](SftRow) { return true; });
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("neither a JSON array"), std::string::npos);
  Result<SftReadStats> empty =
      ReadSftRows(dir.WriteFile("e.json", ""), {}, [](SftRow) { return true; });
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("starts with nothing"), std::string::npos);
  // A field over the size limit.
  std::string big =
      R"({"Question":")" + std::string(2000, 'x') + R"(","Complex_CoT":"c","Response":"r"})";
  Result<SftReadStats> limited = SftReadStats{};
  std::vector<SftRow> rows =
      ReadAll(dir.WriteFile("big.json", "[" + big + "]"), {.max_field_bytes = 1000}, &limited);
  ASSERT_TRUE(limited.ok());
  EXPECT_TRUE(rows.empty());
  EXPECT_NE(limited->problems.at(0).find("over the limit"), std::string::npos);
}

TEST(SftReaderTest, TheCallbackCanStopEarly) {
  int n = 0;
  Result<SftReadStats> s = ReadSftRows(SharedDataPath("medical-o1-sft/huatuogpt-o1_demo_data.json"),
                                       {}, [&](SftRow) { return ++n < 3; });
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(n, 3);
  EXPECT_EQ(s->rows, 3);
}

}  // namespace
}  // namespace medassist::datasets
