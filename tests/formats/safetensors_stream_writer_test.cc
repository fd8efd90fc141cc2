// The streaming safetensors writer: same bytes as the in-memory writer, chunking that cannot cross
// tensors, and no file left at the path unless Finish() succeeds.
#include <gtest/gtest.h>

#include <filesystem>
#include <numeric>

#include "formats/safetensors_reader.h"
#include "formats/safetensors_stream_writer.h"
#include "formats/safetensors_writer.h"
#include "support/test_support.h"

namespace medassist::formats {
namespace {

using medassist::testing::ReadFileOrFail;
using medassist::testing::TempDir;

std::vector<uint8_t> Bytes(size_t n, uint8_t first) {
  std::vector<uint8_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

std::vector<SafetensorsTensorSpec> Specs() {
  return {{"b", SafetensorsDtype::kF32, {2, 3}},
          {"empty", SafetensorsDtype::kF32, {0, 4}},
          {"a", SafetensorsDtype::kBF16, {5}}};
}

TEST(SafetensorsStreamWriter, MatchesTheInMemoryWriterWhateverTheChunks) {
  const std::vector<uint8_t> b = Bytes(24, 1), a = Bytes(10, 100);
  SafetensorsWriter reference;
  reference.SetMetadata("format", "pt");
  reference.AddTensor("b", SafetensorsDtype::kF32, {2, 3}, b);
  reference.AddTensor("empty", SafetensorsDtype::kF32, {0, 4}, {});
  reference.AddTensor("a", SafetensorsDtype::kBF16, {5}, a);
  Result<std::string> expected = reference.WriteToString();
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();

  TempDir dir;
  const std::string path = dir.path() + "/m.safetensors";
  auto w = SafetensorsStreamWriter::Create(path, Specs(), {{"format", "pt"}});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->file_bytes(), expected->size());
  // Chunks of 7, 7, 7, 3 bytes for "b" (the last one ends the tensor), then "a" whole.
  for (size_t at = 0; at < b.size(); at += 7) {
    const size_t n = std::min<size_t>(7, b.size() - at);
    ASSERT_TRUE(w->Append({b.data() + at, n}).ok());
  }
  EXPECT_EQ(w->current_tensor(), 2u);  // the zero-size tensor needs no bytes
  ASSERT_TRUE(w->Append(a).ok());
  ASSERT_TRUE(w->Finish().ok());
  EXPECT_EQ(ReadFileOrFail(path), *expected);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  Result<SafetensorsFile> f = SafetensorsFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_NE(f->Find("a"), nullptr);
  EXPECT_EQ(std::vector<uint8_t>(f->Find("a")->data.begin(), f->Find("a")->data.end()), a);
  EXPECT_EQ(f->metadata().at("format"), "pt");
}

TEST(SafetensorsStreamWriter, RefusesAChunkThatCrossesATensor) {
  TempDir dir;
  const std::string path = dir.path() + "/m.safetensors";
  auto w = SafetensorsStreamWriter::Create(path, Specs(), {});
  ASSERT_TRUE(w.ok());
  Status st = w->Append(Bytes(25, 0));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("tensor 'b' has 24 bytes left, 25 appended"), std::string::npos)
      << st.message();
}

TEST(SafetensorsStreamWriter, IncompleteOrAbandonedLeavesNoFile) {
  TempDir dir;
  const std::string path = dir.path() + "/m.safetensors";
  {
    auto w = SafetensorsStreamWriter::Create(path, Specs(), {});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->Append(Bytes(24, 0)).ok());
    Status st = w->Finish();
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("tensor 'a' is incomplete (0 of 10 bytes)"), std::string::npos)
        << st.message();
  }
  {
    auto w = SafetensorsStreamWriter::Create(path, Specs(), {});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(std::filesystem::exists(path + ".tmp"));
    ASSERT_TRUE(w->Append(Bytes(24, 0)).ok());
  }  // destroyed before Finish
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(SafetensorsStreamWriter, RefusesBadSpecsAndUnwritablePaths) {
  TempDir dir;
  const std::string path = dir.path() + "/m.safetensors";
  auto twice = SafetensorsStreamWriter::Create(
      path, {{"w", SafetensorsDtype::kF32, {1}}, {"w", SafetensorsDtype::kF32, {2}}}, {});
  EXPECT_EQ(twice.status().code(), StatusCode::kInvalidArgument);
  auto reserved =
      SafetensorsStreamWriter::Create(path, {{"__metadata__", SafetensorsDtype::kF32, {1}}}, {});
  EXPECT_EQ(reserved.status().code(), StatusCode::kInvalidArgument);
  auto huge = SafetensorsStreamWriter::Create(
      path, {{"w", SafetensorsDtype::kF32, {uint64_t{1} << 40, uint64_t{1} << 30}}}, {});
  EXPECT_EQ(huge.status().code(), StatusCode::kInvalidArgument);
  auto nowhere =
      SafetensorsStreamWriter::Create(dir.path() + "/no/such/dir/m.safetensors", Specs(), {});
  EXPECT_EQ(nowhere.status().code(), StatusCode::kIoError);
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace medassist::formats
