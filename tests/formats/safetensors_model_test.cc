// SafetensorsModel::OpenFolder on single-file and sharded folders, and every refusal of a bad
// index: missing shard, index and shards disagreeing, a tensor in two shards, paths as shard names.
#include <gtest/gtest.h>

#include "formats/safetensors_model.h"
#include "formats/safetensors_writer.h"
#include "support/test_support.h"

namespace medassist::formats {
namespace {

constexpr char kShard1[] = "model-00001-of-00002.safetensors";
constexpr char kShard2[] = "model-00002-of-00002.safetensors";

// A file with U8 tensors of 4 bytes each, every byte equal to fill.
std::string ShardBytes(const std::vector<std::string>& names, uint8_t fill) {
  SafetensorsWriter w;
  const std::vector<uint8_t> data(4, fill);
  for (const std::string& n : names) w.AddTensor(n, SafetensorsDtype::kU8, {4}, data);
  return *w.WriteToString();
}

// A folder with shard 1 = {a, b}, shard 2 = {c} and the given weight_map JSON.
class ShardedFolder : public ::testing::Test {
 protected:
  void WriteShards() {
    dir_.WriteFile(kShard1, ShardBytes({"a", "b"}, 1));
    dir_.WriteFile(kShard2, ShardBytes({"c"}, 2));
  }
  void WriteIndex(const std::string& weight_map) {
    index_ =
        dir_.WriteFile(kSafetensorsIndexFile,
                       "{\"metadata\": {\"total_size\": 12}, \"weight_map\": " + weight_map + "}");
  }
  std::string GoodMap() const {
    return std::string("{\"a\": \"") + kShard1 + "\", \"b\": \"" + kShard1 + "\", \"c\": \"" +
           kShard2 + "\"}";
  }
  // The message of the refusal OpenFolder must make.
  std::string Refusal(StatusCode code) {
    Result<SafetensorsModel> r = SafetensorsModel::OpenFolder(dir_.path());
    if (r.ok()) return "accepted";
    EXPECT_EQ(r.status().code(), code) << r.status().ToString();
    return r.status().message();
  }
  std::string Shard(const char* name) const { return dir_.path() + "/" + name; }

  testing::TempDir dir_;
  std::string index_;
};

TEST(SafetensorsModel, SingleFile) {
  testing::TempDir dir;
  dir.WriteFile(kSafetensorsSingleFile, ShardBytes({"x", "y"}, 5));
  Result<SafetensorsModel> r = SafetensorsModel::OpenFolder(dir.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->dir(), dir.path());
  ASSERT_EQ(r->files().size(), 1u);
  EXPECT_EQ(r->n_tensors(), 2u);
  ASSERT_NE(r->Find("y"), nullptr);
  EXPECT_EQ(r->Find("y")->data[3], 5);
  EXPECT_EQ(r->Find("z"), nullptr);
}

TEST(SafetensorsModel, EmptyFolderIsNotFound) {
  testing::TempDir dir;
  Result<SafetensorsModel> r = SafetensorsModel::OpenFolder(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message().rfind(
                dir.path() + ": no model.safetensors or model.safetensors.index.json", 0),
            0u);
}

TEST(SafetensorsModel, BrokenSingleFileNamesTheFile) {
  testing::TempDir dir;
  const std::string path = dir.WriteFile(kSafetensorsSingleFile, "short");
  Result<SafetensorsModel> r = SafetensorsModel::OpenFolder(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            path + ": file is 5 bytes, too short for the 8-byte header length");
}

TEST_F(ShardedFolder, FindsTensorsAcrossShards) {
  WriteShards();
  WriteIndex(GoodMap());
  Result<SafetensorsModel> r = SafetensorsModel::OpenFolder(dir_.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->files().size(), 2u);
  EXPECT_EQ(r->files()[0].source(), Shard(kShard1));
  EXPECT_EQ(r->files()[1].source(), Shard(kShard2));
  EXPECT_EQ(r->n_tensors(), 3u);
  ASSERT_NE(r->Find("b"), nullptr);
  EXPECT_EQ(r->Find("b")->data[0], 1);
  ASSERT_NE(r->Find("c"), nullptr);
  EXPECT_EQ(r->Find("c")->data[0], 2);
  EXPECT_EQ(r->Find("d"), nullptr);
  SafetensorsModel moved = std::move(*r);
  EXPECT_EQ(moved.Find("c")->data[3], 2);
}

TEST_F(ShardedFolder, SingleFileWinsOverAnIndex) {
  WriteIndex("{\"a\": \"gone.safetensors\"}");
  dir_.WriteFile(kSafetensorsSingleFile, ShardBytes({"only"}, 9));
  Result<SafetensorsModel> r = SafetensorsModel::OpenFolder(dir_.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(r->Find("only"), nullptr);
}

TEST_F(ShardedFolder, MissingShard) {
  dir_.WriteFile(kShard1, ShardBytes({"a", "b"}, 1));
  WriteIndex(GoodMap());
  EXPECT_EQ(Refusal(StatusCode::kNotFound),
            index_ + ": shard 'model-00002-of-00002.safetensors' (listed for tensor 'c') is " +
                "missing from the folder");
}

TEST_F(ShardedFolder, TensorAbsentFromItsShard) {
  WriteShards();
  WriteIndex(std::string("{\"a\": \"") + kShard1 + "\", \"b\": \"" + kShard1 + "\", \"c\": \"" +
             kShard2 + "\", \"d\": \"" + kShard2 + "\"}");
  EXPECT_EQ(Refusal(StatusCode::kDataLoss), index_ + ": tensor 'd' is listed in shard '" + kShard2 +
                                                "', which does not contain it");
}

TEST_F(ShardedFolder, TensorListedInTheWrongShard) {
  WriteShards();
  WriteIndex(std::string("{\"a\": \"") + kShard1 + "\", \"b\": \"" + kShard2 + "\", \"c\": \"" +
             kShard2 + "\"}");
  EXPECT_EQ(Refusal(StatusCode::kDataLoss), index_ + ": tensor 'b' is listed in shard '" + kShard2 +
                                                "', which does not contain it");
}

TEST_F(ShardedFolder, TensorInTwoShards) {
  dir_.WriteFile(kShard1, ShardBytes({"a", "b"}, 1));
  dir_.WriteFile(kShard2, ShardBytes({"b", "c"}, 2));
  WriteIndex(GoodMap());
  EXPECT_EQ(Refusal(StatusCode::kDataLoss),
            index_ + ": tensor 'b' is in two shards, " + Shard(kShard1) + " and " + Shard(kShard2));
}

TEST_F(ShardedFolder, ShardHoldsATensorTheIndexDoesNotList) {
  dir_.WriteFile(kShard1, ShardBytes({"a", "b", "extra"}, 1));
  dir_.WriteFile(kShard2, ShardBytes({"c"}, 2));
  WriteIndex(GoodMap());
  EXPECT_EQ(Refusal(StatusCode::kDataLoss),
            index_ + ": shard " + Shard(kShard1) +
                " holds tensor 'extra', which the index does not list");
}

TEST_F(ShardedFolder, BrokenShardNamesTheShard) {
  dir_.WriteFile(kShard1, ShardBytes({"a", "b"}, 1));
  dir_.WriteFile(kShard2, std::string(8, '\xff'));
  WriteIndex(GoodMap());
  EXPECT_EQ(Refusal(StatusCode::kResourceExhausted),
            Shard(kShard2) + ": header length 18446744073709551615 is over the limit of " +
                "100000000 bytes");
}

TEST_F(ShardedFolder, ShardNamesThatArePathsAreRefused) {
  WriteShards();
  // The folder's parent holds a real file, so these would succeed if paths were followed.
  for (const std::string name :
       {"../x.safetensors", "sub/x.safetensors", "..", ".", "a\\\\b", "/etc/passwd", ""}) {
    WriteIndex("{\"a\": \"" + name + "\"}");
    const std::string m = Refusal(StatusCode::kDataLoss);
    EXPECT_NE(m.find("which is not a plain file name in the folder"), std::string::npos)
        << name << ": " << m;
    EXPECT_EQ(m.rfind(index_ + ": weight_map 'a' names shard '", 0), 0u) << m;
  }
}

TEST_F(ShardedFolder, MalformedIndexIsRefused) {
  WriteShards();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"weight_map\": ", "invalid JSON at byte"},
      {"[]", "expected a JSON object with a 'weight_map'"},
      {"{\"metadata\": {}}", "expected a JSON object with a 'weight_map'"},
      {"{\"weight_map\": []}", "'weight_map' must be a non-empty object of tensor -> shard file"},
      {"{\"weight_map\": {}}", "'weight_map' must be a non-empty object"},
      {"{\"weight_map\": {\"a\": 1}}", "weight_map 'a' must be a shard file name (a string)"},
      {"{\"weight_map\": {\"a\": \"x\", \"a\": \"y\"}}", "duplicate key 'a' in a JSON object"},
  };
  for (const auto& [text, expected] : cases) {
    index_ = dir_.WriteFile(kSafetensorsIndexFile, text);
    const std::string m = Refusal(StatusCode::kDataLoss);
    EXPECT_EQ(m.rfind(index_ + ": ", 0), 0u) << m;
    EXPECT_NE(m.find(expected), std::string::npos) << text << "\n  message: " << m;
  }
}

}  // namespace
}  // namespace medassist::formats
