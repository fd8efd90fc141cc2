// ResolveModelPath: paths as given, and repo ids looked up in a fake Hugging Face hub cache.
#include "model/model_path.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>

#include "support/test_support.h"

namespace medassist::model {
namespace {

namespace fs = std::filesystem;

// A hub cache with models--Org--Name: refs/main -> aaa111, refs/dev -> bbb222, a snapshot
// ccc333 with no ref, and refs/broken naming a snapshot that is not there.
class FakeHubCache : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = root() + "/models--Org--Name";
    for (const char* hash : {"aaa111", "bbb222", "ccc333"}) {
      fs::create_directories(repo_ + "/snapshots/" + hash);
      dir_.WriteFile("hub/models--Org--Name/snapshots/" + std::string(hash) + "/config.json", "{}");
    }
    fs::create_directories(repo_ + "/refs");
    dir_.WriteFile("hub/models--Org--Name/refs/main", "aaa111");
    dir_.WriteFile("hub/models--Org--Name/refs/dev", "bbb222\n");
    dir_.WriteFile("hub/models--Org--Name/refs/broken", "ddd444");
  }
  std::string root() const { return dir_.path() + "/hub"; }
  std::string Snapshot(const std::string& hash) const { return repo_ + "/snapshots/" + hash; }

  medassist::testing::TempDir dir_;
  std::string repo_;
};

TEST_F(FakeHubCache, ExistingPathsAreReturnedAsTheyAre) {
  std::string gguf = dir_.WriteFile("m.gguf", "GGUF");
  EXPECT_EQ(*ResolveModelPath(gguf, root()), gguf);
  EXPECT_EQ(*ResolveModelPath(dir_.path(), root()), dir_.path());
}

TEST_F(FakeHubCache, RepoIdFollowsRefsMain) {
  Result<std::string> path = ResolveModelPath("Org/Name", root());
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*path, Snapshot("aaa111"));
  EXPECT_TRUE(fs::exists(*path + "/config.json"));
  EXPECT_EQ(*ResolveModelPath("Org/Name@main", root()), Snapshot("aaa111"));
}

TEST_F(FakeHubCache, BranchRefWithTrailingNewline) {
  EXPECT_EQ(*ResolveModelPath("Org/Name@dev", root()), Snapshot("bbb222"));
}

TEST_F(FakeHubCache, RevisionGivenAsCommitHash) {
  EXPECT_EQ(*ResolveModelPath("Org/Name@ccc333", root()), Snapshot("ccc333"));
  EXPECT_EQ(*ResolveModelPath("Org/Name@bbb222", root()), Snapshot("bbb222"));
}

TEST_F(FakeHubCache, MissingRevisionSaysWhatWasTried) {
  Result<std::string> path = ResolveModelPath("Org/Name@v9", root());
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().code(), StatusCode::kNotFound);
  const std::string& m = path.status().message();
  EXPECT_NE(m.find("not at revision 'v9' (no refs/v9 and no snapshots/v9"), std::string::npos) << m;
  EXPECT_NE(m.find("`medassist pull Org/Name@v9`"), std::string::npos) << m;
}

TEST_F(FakeHubCache, RefToAMissingSnapshot) {
  Result<std::string> path = ResolveModelPath("Org/Name@broken", root());
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().code(), StatusCode::kNotFound);
  EXPECT_NE(path.status().message().find("names commit ddd444"), std::string::npos)
      << path.status().message();
}

TEST_F(FakeHubCache, RepoNotInTheCache) {
  Result<std::string> path = ResolveModelPath("Qwen/Qwen2.5-3B-Instruct", root());
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(
      path.status().message(),
      "model 'Qwen/Qwen2.5-3B-Instruct' is not a file or folder, and not in the Hugging Face "
      "cache at " +
          root() +
          " (no models--Qwen--Qwen2.5-3B-Instruct); download it with "
          "`medassist pull Qwen/Qwen2.5-3B-Instruct` (or huggingface-cli download) or pass a path");
}

TEST_F(FakeHubCache, MissingPathsAreReportedAsPaths) {
  for (std::string spec : {"/no/such/model", "./model", "model.gguf"}) {
    Result<std::string> path = ResolveModelPath(spec, root());
    ASSERT_FALSE(path.ok()) << spec;
    EXPECT_EQ(path.status().code(), StatusCode::kNotFound) << spec;
    EXPECT_NE(path.status().message().find("no such file or folder"), std::string::npos) << spec;
  }
}

TEST_F(FakeHubCache, BadRepoIdsAreRefused) {
  for (std::string spec :
       {"Org/..", "Org/a..b", "Org\\x/Name", "Org/", "Org//Name", "a/b/c", "Org/Name@",
        "Org/Name@../main", "Org/Name@refs//x", "Name", "", "Org/Name@a\\b"}) {
    Result<std::string> path = ResolveModelPath(spec, root());
    ASSERT_FALSE(path.ok()) << spec;
    EXPECT_EQ(path.status().code(), StatusCode::kInvalidArgument) << spec;
  }
}

// Sets an environment variable for the scope (nullptr: unset), restoring the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value == nullptr) {
      ::unsetenv(name);
    } else {
      ::setenv(name, value, 1);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(HfHubCacheRootTest, FollowsHuggingFaceHubPrecedence) {
  ScopedEnv home("HOME", "/home/u");
  ScopedEnv xdg("XDG_CACHE_HOME", nullptr);
  ScopedEnv hf_home("HF_HOME", nullptr);
  ScopedEnv hub("HF_HUB_CACHE", nullptr);
  EXPECT_EQ(HfHubCacheRoot(), "/home/u/.cache/huggingface/hub");
  ::setenv("XDG_CACHE_HOME", "/xdg", 1);
  EXPECT_EQ(HfHubCacheRoot(), "/xdg/huggingface/hub");
  ::setenv("HF_HOME", "/hf", 1);
  EXPECT_EQ(HfHubCacheRoot(), "/hf/hub");
  ::setenv("HF_HUB_CACHE", "/cache", 1);
  EXPECT_EQ(HfHubCacheRoot(), "/cache");
}

}  // namespace
}  // namespace medassist::model
