// Pushing a folder to the stand-in hub (create, preupload, LFS batch, commit), then pulling it
// back.
#include <gtest/gtest.h>

#include <filesystem>

#include "hub/digest.h"
#include "hub/snapshot.h"
#include "hub/upload.h"
#include "hub_test_util.h"

namespace medassist::hub::testing {
namespace {

namespace fs = std::filesystem;

class PushTest : public HubTest {
 protected:
  void SetUp() override {
    big_ = std::string(1 << 20, '\0');
    for (size_t i = 0; i < big_.size(); ++i) big_[i] = static_cast<char>((i * 131) ^ (i >> 9));
    folder_.WriteFile("model.safetensors", big_);
    folder_.WriteFile("config.json", "{\"model_type\": \"qwen2\"}\n");
    fs::create_directories(folder_.path() + "/sub");
    folder_.WriteFile("sub/notes.txt", "small file\n");
    fs::create_directories(folder_.path() + "/.git");
    folder_.WriteFile(".git/HEAD", "ref: refs/heads/main\n");
  }
  HubConfig WriteConfig() const {
    HubConfig c = Config();
    c.token = "hf_test_token";
    return c;
  }
  Result<PushResult> Push(const std::string& message = "first") {
    PushOptions o{.folder = folder_.path(), .message = message, .show_progress = false};
    return PushFolder(WriteConfig(), *ParseRepoRef("me/pushed"), o);
  }

  std::string big_;
  medassist::testing::TempDir folder_;
};

TEST_F(PushTest, PushThenPullBackByteIdentical) {
  Result<PushResult> r = Push();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->n_files, 3);  // .git/ left out
  EXPECT_EQ(r->n_lfs_uploaded, 1);
  EXPECT_EQ(r->n_lfs_already_there, 0);
  EXPECT_EQ(r->commit, hub_.MainCommit(RepoType::kModel, "me/pushed"));
  EXPECT_FALSE(hub_.HasFile(RepoType::kModel, "me/pushed", ".git/HEAD"));
  EXPECT_EQ(hub_.lfs_uploads(), 1);
  EXPECT_EQ(hub_.CountRequests("POST", "/objects/verify"), 1);
  // The bytes went to the CDN host, without the token.
  for (const SeenRequest& s : hub_.Requests()) {
    if (s.host == "cdn") {
      EXPECT_EQ(s.authorization, "");
    }
  }
  SnapshotOptions o;
  o.show_progress = false;
  Result<std::string> dir = DownloadSnapshot(Config(), *ParseRepoRef("me/pushed"), o);
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_EQ(Read(*dir + "/model.safetensors"), big_);
  EXPECT_EQ(Read(*dir + "/config.json"), "{\"model_type\": \"qwen2\"}\n");
  EXPECT_EQ(Read(*dir + "/sub/notes.txt"), "small file\n");
  EXPECT_EQ(fs::read_symlink(*dir + "/model.safetensors").string(),
            "../../blobs/" + Sha256Hex(big_));
}

TEST_F(PushTest, SecondPushSkipsLfsObjectsTheServerHas) {
  ASSERT_TRUE(Push().ok());
  folder_.WriteFile("config.json", "{\"model_type\": \"llama\"}\n");
  Result<PushResult> second = Push("second");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->n_lfs_uploaded, 0);
  EXPECT_EQ(second->n_lfs_already_there, 1);
  EXPECT_EQ(hub_.lfs_uploads(), 1);
  EXPECT_EQ(hub_.CountRequests("PUT", "/upload/"), 1);
  EXPECT_EQ(hub_.CountRequests("POST", "/api/repos/create"), 2);  // the second got 409
}

TEST_F(PushTest, NeedsAToken) {
  PushOptions o{.folder = folder_.path(), .show_progress = false};
  Result<PushResult> r = PushFolder(Config(), *ParseRepoRef("me/pushed"), o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("HF_TOKEN"), std::string::npos);
  EXPECT_TRUE(hub_.Requests().empty());
  HubConfig wrong = Config();
  wrong.token = "hf_bad";
  Result<PushResult> refused = PushFolder(wrong, *ParseRepoRef("me/pushed"), o);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("401"), std::string::npos)
      << refused.status().message();
}

TEST_F(PushTest, DatasetRepoAndMissingFolder) {
  PushOptions o{.folder = folder_.path(), .show_progress = false};
  Result<PushResult> r = PushFolder(WriteConfig(), *ParseRepoRef("me/data", RepoType::kDataset), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(hub_.HasFile(RepoType::kDataset, "me/data", "model.safetensors"));
  EXPECT_EQ(hub_.CountRequests("POST", "/datasets/me/data.git/info/lfs/objects/batch"), 1);
  PushOptions none{.folder = folder_.path() + "/nope", .show_progress = false};
  EXPECT_EQ(PushFolder(WriteConfig(), *ParseRepoRef("me/x"), none).status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace medassist::hub::testing
