// Pulling from the stand-in hub: the cache layout huggingface_hub writes, resume, verification,
// errors, offline mode.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "hub/digest.h"
#include "hub/download.h"
#include "hub/hub_cache.h"
#include "hub/snapshot.h"
#include "hub_test_util.h"
#include "model/model_path.h"

namespace medassist::hub::testing {
namespace {

namespace fs = std::filesystem;

// Bytes that differ at every offset, so a resume from the wrong place cannot go unnoticed.
std::string Pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed;
  for (char& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

class PullTest : public HubTest {
 protected:
  void SetUp() override {
    weights_ = Pattern(300'000, 7);
    commit_ = hub_.AddRepo(RepoType::kModel, "med/tiny",
                           {{.path = "config.json", .content = "{\"model_type\": \"qwen2\"}\n"},
                            {.path = "model.safetensors", .content = weights_, .lfs = true},
                            {.path = "tokenizer/vocab.json", .content = "{}"},
                            {.path = "README.md", .content = "# tiny\n"}});
  }
  Result<std::string> Pull(const std::string& include = "", const HubConfig* config = nullptr) {
    SnapshotOptions o;
    o.include = SplitPatterns(include);
    o.show_progress = false;
    return DownloadSnapshot(config ? *config : Config(), *ParseRepoRef("med/tiny"), o);
  }
  std::string RepoDir() const { return Config().cache_root + "/models--med--tiny"; }

  std::string weights_;
  std::string commit_;
};

TEST_F(PullTest, CacheLayoutIsHuggingfaceHubs) {
  Result<std::string> dir = Pull();
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_EQ(*dir, RepoDir() + "/snapshots/" + commit_);
  EXPECT_EQ(Read(RepoDir() + "/refs/main"), commit_);  // no newline
  // LFS blob named by its sha256, regular ones by their git blob sha1.
  const std::string sha = Sha256Hex(weights_);
  EXPECT_EQ(Read(RepoDir() + "/blobs/" + sha), weights_);
  EXPECT_EQ(fs::read_symlink(*dir + "/model.safetensors").string(), "../../blobs/" + sha);
  EXPECT_EQ(fs::read_symlink(*dir + "/config.json").string(),
            "../../blobs/" + GitBlobSha1Hex("{\"model_type\": \"qwen2\"}\n"));
  EXPECT_EQ(fs::read_symlink(*dir + "/tokenizer/vocab.json").string(),
            "../../../blobs/" + GitBlobSha1Hex("{}"));
  EXPECT_EQ(Read(*dir + "/tokenizer/vocab.json"), "{}");
  EXPECT_EQ(Read(*dir + "/README.md"), "# tiny\n");
  for (const auto& e : fs::directory_iterator(RepoDir() + "/blobs")) {
    EXPECT_FALSE(e.path().string().ends_with(".incomplete")) << e.path();
  }
  // ResolveModelPath (the model loader's lookup) finds the pulled snapshot.
  Result<std::string> found = model::ResolveModelPath("med/tiny", Config().cache_root);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(*found, *dir);
}

TEST_F(PullTest, LfsComesFromCdnWithoutTheToken) {
  hub_.set_token("hf_secret");
  HubConfig c = Config();
  c.token = "hf_secret";
  ASSERT_TRUE(Pull("", &c).ok());
  int cdn_gets = 0;
  for (const SeenRequest& r : hub_.Requests()) {
    if (r.host == "cdn") {
      ++cdn_gets;
      EXPECT_EQ(r.authorization, "") << "token sent to the CDN host";
    } else {
      EXPECT_EQ(r.authorization, "Bearer hf_secret") << r.method << " " << r.path;
    }
  }
  EXPECT_EQ(cdn_gets, 1);
  EXPECT_EQ(hub_.CountRequests("HEAD", "/resolve/"), 4);
}

TEST_F(PullTest, IncludeAndSecondPullIsFree) {
  Result<std::string> dir = Pull("*.json");
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_TRUE(fs::exists(*dir + "/config.json"));
  EXPECT_TRUE(fs::exists(*dir + "/tokenizer/vocab.json"));
  EXPECT_FALSE(fs::exists(*dir + "/model.safetensors"));
  EXPECT_EQ(hub_.CountRequests("GET", "/lfs/"), 0);
  const int heads = hub_.CountRequests("HEAD", "/resolve/");
  ASSERT_TRUE(Pull("*.json").ok());
  EXPECT_EQ(hub_.CountRequests("HEAD", "/resolve/"), heads) << "cached files fetched again";
  Result<std::string> none = Pull("*.gguf");
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
}

TEST_F(PullTest, ResumesAnInterruptedTransfer) {
  hub_.DropAfterOnce("model.safetensors", 100'000);
  Result<std::string> dir = Pull();
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_EQ(Read(*dir + "/model.safetensors"), weights_);
  std::vector<std::string> ranges;
  for (const SeenRequest& r : hub_.Requests()) {
    if (r.host == "cdn") ranges.push_back(r.range);
  }
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], "");
  EXPECT_EQ(ranges[1], "bytes=100000-");
}

TEST_F(PullTest, InterruptedDownloadLeavesOnlyAnIncompleteFileThenResumes) {
  hub_.DropAfterOnce("model.safetensors", 65'536);
  SnapshotOptions o;
  o.download.max_attempts = 1;
  o.show_progress = false;
  Result<std::string> first = DownloadSnapshot(Config(), *ParseRepoRef("med/tiny"), o);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), StatusCode::kIoError);
  const std::string sha = Sha256Hex(weights_);
  EXPECT_FALSE(fs::exists(RepoDir() + "/blobs/" + sha));
  EXPECT_EQ(fs::file_size(RepoDir() + "/blobs/" + sha + ".incomplete"), 65'536u);
  EXPECT_FALSE(fs::exists(RepoDir() + "/snapshots/" + commit_ + "/model.safetensors"));
  Result<std::string> second = DownloadSnapshot(Config(), *ParseRepoRef("med/tiny"), o);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(Read(*second + "/model.safetensors"), weights_);
  EXPECT_EQ(hub_.CountRequests("GET", "/lfs/"), 2);
  bool resumed = false;
  for (const SeenRequest& r : hub_.Requests()) resumed |= r.range == "bytes=65536-";
  EXPECT_TRUE(resumed);
  EXPECT_FALSE(fs::exists(RepoDir() + "/blobs/" + sha + ".incomplete"));
}

TEST_F(PullTest, ChecksumMismatchIsRefusedAndLeavesNothing) {
  hub_.Corrupt("model.safetensors");
  Result<std::string> dir = Pull();
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(dir.status().message().find("sha256"), std::string::npos) << dir.status().message();
  const std::string sha = Sha256Hex(weights_);
  EXPECT_FALSE(fs::exists(RepoDir() + "/blobs/" + sha));
  EXPECT_FALSE(fs::exists(RepoDir() + "/blobs/" + sha + ".incomplete"));
  EXPECT_FALSE(fs::exists(RepoDir() + "/snapshots/" + commit_ + "/model.safetensors"));
  EXPECT_FALSE(fs::exists(RepoDir() + "/refs/main"));
}

TEST_F(PullTest, PrivateRepoNeedsToken) {
  hub_.AddRepo(RepoType::kModel, "med/private", {{.path = "a.json", .content = "{}"}}, true);
  SnapshotOptions o;
  o.show_progress = false;
  Result<std::string> r = DownloadSnapshot(Config(), *ParseRepoRef("med/private"), o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("HTTP 401"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("set HF_TOKEN"), std::string::npos) << r.status().message();
  HubConfig c = Config();
  c.token = "hf_test_token";
  Result<std::string> ok = DownloadSnapshot(c, *ParseRepoRef("med/private"), o);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  c.token = "hf_wrong_token_value";
  Progress quiet(false);
  Result<std::string> wrong =
      DownloadFile(c, *ParseRepoRef("med/private"), "main", "a.json", {}, quiet);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().message().find("hf_wrong_token_value"), std::string::npos);
}

TEST_F(PullTest, NotFoundErrorsSayWhatIsMissing) {
  SnapshotOptions o;
  o.show_progress = false;
  Result<std::string> repo = DownloadSnapshot(Config(), *ParseRepoRef("med/nope"), o);
  EXPECT_EQ(repo.status().code(), StatusCode::kNotFound);
  EXPECT_NE(repo.status().message().find("repository not found"), std::string::npos)
      << repo.status().message();
  Result<std::string> rev = DownloadSnapshot(Config(), *ParseRepoRef("med/tiny@v9"), o);
  EXPECT_NE(rev.status().message().find("no such revision"), std::string::npos)
      << rev.status().message();
  Progress quiet(false);
  Result<std::string> entry =
      DownloadFile(Config(), *ParseRepoRef("med/tiny"), "main", "nope.json", {}, quiet);
  EXPECT_NE(entry.status().message().find("no such file"), std::string::npos)
      << entry.status().message();
}

TEST_F(PullTest, NetworkDownNamesTheUrl) {
  HubConfig c = Config();
  c.endpoint = "http://127.0.0.1:1";  // nothing listens on port 1
  SnapshotOptions o;
  o.show_progress = false;
  Result<std::string> r = DownloadSnapshot(c, *ParseRepoRef("med/tiny"), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find("http://127.0.0.1:1/api/models/med/tiny/revision/main"),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("HF_HUB_OFFLINE"), std::string::npos);
}

TEST_F(PullTest, OfflineUsesOnlyTheCache) {
  HubConfig offline = Config();
  offline.offline = true;
  Result<std::string> missing = Pull("", &offline);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("HF_HUB_OFFLINE"), std::string::npos);
  EXPECT_TRUE(hub_.Requests().empty());
  Result<std::string> online = Pull();
  ASSERT_TRUE(online.ok());
  const size_t n_requests = hub_.Requests().size();
  Result<std::string> cached = Pull("", &offline);
  ASSERT_TRUE(cached.ok()) << cached.status().ToString();
  EXPECT_EQ(*cached, *online);
  Progress quiet(false);
  Result<std::string> file =
      DownloadFile(offline, *ParseRepoRef("med/tiny"), "main", "config.json", {}, quiet);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(hub_.Requests().size(), n_requests) << "offline mode touched the network";
}

TEST_F(PullTest, EnsureSnapshotDownloadsOnlyWhenMissing) {
  HubConfig offline = Config();
  offline.offline = true;
  EXPECT_EQ(EnsureSnapshot("med/tiny", offline).status().code(), StatusCode::kNotFound);
  Result<std::string> dir = EnsureSnapshot("med/tiny", Config());
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_TRUE(fs::exists(*dir + "/model.safetensors"));
  EXPECT_FALSE(fs::exists(*dir + "/README.md"));  // not a model file
  const size_t n = hub_.Requests().size();
  EXPECT_EQ(*EnsureSnapshot("med/tiny", Config()), *dir);
  EXPECT_EQ(hub_.Requests().size(), n);
}

TEST_F(PullTest, DatasetRepos) {
  hub_.AddRepo(RepoType::kDataset, "med/o1", {{.path = "data.json", .content = "[1,2]"}});
  SnapshotOptions o;
  o.show_progress = false;
  Result<std::string> dir =
      DownloadSnapshot(Config(), *ParseRepoRef("med/o1", RepoType::kDataset), o);
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_NE(dir->find("/datasets--med--o1/snapshots/"), std::string::npos);
  EXPECT_EQ(Read(*dir + "/data.json"), "[1,2]");
}

TEST_F(PullTest, HostileListingIsRefused) {
  hub_.AddRepo(RepoType::kModel, "med/evil", {{.path = "../../../evil.json", .content = "x"}});
  SnapshotOptions o;
  o.show_progress = false;
  Result<std::string> r = DownloadSnapshot(Config(), *ParseRepoRef("med/evil"), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("unsafe file path"), std::string::npos);
  EXPECT_EQ(hub_.CountRequests("HEAD", "/resolve/"), 0);
  EXPECT_FALSE(fs::exists(Config().cache_root + "/evil.json"));
}

TEST(HubCacheTest, WriteRefAndResolve) {
  medassist::testing::TempDir dir;
  RepoCache cache(dir.path(), *ParseRepoRef("a/b"));
  EXPECT_EQ(cache.ResolveRevision("main").status().code(), StatusCode::kNotFound);
  const std::string commit(40, 'a');
  ASSERT_TRUE(cache.WriteRef("main", commit).ok());
  EXPECT_EQ(*cache.ResolveRevision("main"), commit);
  EXPECT_EQ(cache.RefPath("main"), dir.path() + "/models--a--b/refs/main");
}

}  // namespace
}  // namespace medassist::hub::testing
