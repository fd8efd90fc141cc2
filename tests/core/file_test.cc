#include "core/file.h"

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace medassist {
namespace {

TEST(FileTest, ReadFileReturnsContents) {
  testing::TempDir dir;
  std::string path = dir.WriteFile("a.txt", std::string("abc\0def", 7));
  auto r = ReadFile(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, std::string("abc\0def", 7));
}

TEST(FileTest, MissingFileIsNotFoundAndNamesThePath) {
  auto r = ReadFile("/nonexistent/medassist.txt");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/medassist.txt"), std::string::npos);
}

TEST(FileTest, OverLimitIsRefusedBeforeReading) {
  testing::TempDir dir;
  std::string path = dir.WriteFile("big.txt", std::string(100, 'x'));
  auto r = ReadFile(path, 10);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
}

TEST(FileTest, DirectoryIsRefused) {
  testing::TempDir dir;
  auto r = ReadFile(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(MappedFile::Open(dir.path()).ok());
}

TEST(FileTest, MappedFileViewsBytesAndMoves) {
  testing::TempDir dir;
  std::string path = dir.WriteFile("m.bin", "hello");
  auto r = MappedFile::Open(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  MappedFile m = std::move(r).value();
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.data()), m.size()), "hello");
  MappedFile moved = std::move(m);
  EXPECT_EQ(moved.size(), 5u);
  EXPECT_EQ(m.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract

  std::string empty = dir.WriteFile("empty.bin", "");
  auto e = MappedFile::Open(empty);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->size(), 0u);
}

}  // namespace
}  // namespace medassist
