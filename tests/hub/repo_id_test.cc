// Repo ids, URLs and path checks: what a command line or a hostile server can hand the client.
#include <gtest/gtest.h>

#include "hub/digest.h"
#include "hub/repo_id.h"
#include "hub/snapshot.h"

namespace medassist::hub {
namespace {

TEST(RepoIdTest, ParsesIdAndRevision) {
  Result<RepoRef> r =
      ParseRepoRef("FreedomIntelligence/medical-o1-reasoning-SFT@v1.0", RepoType::kDataset);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->org, "FreedomIntelligence");
  EXPECT_EQ(r->name, "medical-o1-reasoning-SFT");
  EXPECT_EQ(r->revision, "v1.0");
  EXPECT_TRUE(r->explicit_revision);
  EXPECT_EQ(CacheFolderName(*r), "datasets--FreedomIntelligence--medical-o1-reasoning-SFT");
  Result<RepoRef> m = ParseRepoRef("Qwen/Qwen2.5-0.5B");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->revision, "main");
  EXPECT_EQ(CacheFolderName(*m), "models--Qwen--Qwen2.5-0.5B");
  Result<RepoRef> pr = ParseRepoRef("a/b@refs/pr/1");
  ASSERT_TRUE(pr.ok());
  EXPECT_EQ(pr->revision, "refs/pr/1");
}

TEST(RepoIdTest, RefusesHostileIds) {
  for (const char* bad :
       {"",       "a",        "a/",     "/a/b",     "a/b/c",    "../b",        "a/..",
        "a/b@..", "a/b@../x", "a\\b/c", "a/b\\c",   "a/b@x\\y", "..a/b",       "a/b..c",
        "a--x/b", "a/b c",    "a/b@",   "a/b@x//y", "a/\n",     "/etc/passwd", "C:\\x/y"}) {
    Result<RepoRef> r = ParseRepoRef(bad);
    EXPECT_FALSE(r.ok()) << "accepted '" << bad << "'";
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST(RepoIdTest, RepoTypes) {
  EXPECT_EQ(*ParseRepoType("model"), RepoType::kModel);
  EXPECT_EQ(*ParseRepoType("datasets"), RepoType::kDataset);
  EXPECT_FALSE(ParseRepoType("space").ok());
}

TEST(RepoIdTest, SafeRepoPaths) {
  EXPECT_TRUE(IsSafeRepoPath("model.safetensors"));
  EXPECT_TRUE(IsSafeRepoPath("a/b/c.json"));
  for (const char* bad :
       {"", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", "a\\b", "a/", "x\ny"}) {
    EXPECT_FALSE(IsSafeRepoPath(bad)) << bad;
  }
}

TEST(RepoIdTest, UrlsAsHuggingfaceHubBuildsThem) {
  RepoRef m = *ParseRepoRef("org/name");
  RepoRef d = *ParseRepoRef("org/data", RepoType::kDataset);
  const std::string e = "https://huggingface.co";
  EXPECT_EQ(ResolveUrl(e, m, "main", "sub dir/config.json"),
            "https://huggingface.co/org/name/resolve/main/sub%20dir/config.json");
  EXPECT_EQ(ResolveUrl(e, d, "refs/pr/1", "a.json"),
            "https://huggingface.co/datasets/org/data/resolve/refs%2Fpr%2F1/a.json");
  EXPECT_EQ(RevisionInfoUrl(e, m, "main"),
            "https://huggingface.co/api/models/org/name/revision/main");
  EXPECT_EQ(RevisionInfoUrl(e, d, "v1"),
            "https://huggingface.co/api/datasets/org/data/revision/v1");
  EXPECT_EQ(UrlHost("https://user:pw@cdn.example:8443/x?y"), "cdn.example:8443");
}

TEST(RepoIdTest, IncludePatternsLikePythonFnmatch) {
  std::vector<std::string> p = SplitPatterns("*.safetensors, *.json ,");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_TRUE(MatchesAny("model.safetensors", p));
  EXPECT_TRUE(MatchesAny("sub/config.json", p));  // '*' crosses '/' as in fnmatch
  EXPECT_FALSE(MatchesAny("README.md", p));
  EXPECT_TRUE(MatchesAny("README.md", {}));
  EXPECT_TRUE(MatchesAny("onnx/model.onnx", {"onnx/"}));
}

TEST(DigestTest, KnownValues) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // `printf 'hello\n' | git hash-object --stdin`
  EXPECT_EQ(GitBlobSha1Hex("hello\n"), "ce013625030ba8dba906f756967f9e9ca394464a");
  for (const std::string& s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    EXPECT_EQ(*Base64Decode(Base64Encode(s)), s);
  }
  EXPECT_EQ(Base64Encode("ab"), "YWI=");
  EXPECT_FALSE(Base64Decode("abc").ok());
}

}  // namespace
}  // namespace medassist::hub
