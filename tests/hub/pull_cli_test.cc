// `medassist pull` and `medassist push` run in-process against the stand-in hub, configured the
// way users configure huggingface_hub: HF_ENDPOINT, HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "apps/cli.h"
#include "hub_test_util.h"

namespace medassist::hub::testing {
namespace {

struct CliResult {
  int code;
  std::string out, err;
};

CliResult RunMedassist(std::vector<std::string> args) {
  // Global options go before the subcommand; warn keeps the per-file log lines out of stderr.
  args.insert(args.begin(), {"medassist", "--log-level", "warn"});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  int code = apps::RunCli(static_cast<int>(argv.size()), argv.data());
  std::fflush(stdout);
  std::string out = ::testing::internal::GetCapturedStdout();
  return {code, out, ::testing::internal::GetCapturedStderr()};
}

class PullCliTest : public HubTest {
 protected:
  void SetUp() override {
    setenv("HF_ENDPOINT", hub_.endpoint().c_str(), 1);
    setenv("HF_HUB_CACHE", Config().cache_root.c_str(), 1);
    unsetenv("HF_HUB_OFFLINE");
    unsetenv("HF_TOKEN");
  }
  void TearDown() override {
    for (const char* v : {"HF_ENDPOINT", "HF_HUB_CACHE", "HF_HUB_OFFLINE", "HF_TOKEN"}) unsetenv(v);
  }
};

TEST_F(PullCliTest, PullPrintsTheSnapshotFolder) {
  const std::string commit = hub_.AddRepo(
      RepoType::kDataset, "med/o1",
      {{.path = "data.json", .content = "[]"}, {.path = "README.md", .content = "# o1\n"}});
  CliResult r = RunMedassist({"pull", "med/o1", "--repo-type", "dataset", "--include", "*.json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string dir = Config().cache_root + "/datasets--med--o1/snapshots/" + commit;
  EXPECT_EQ(r.out, dir + "\n");
  EXPECT_EQ(Read(dir + "/data.json"), "[]");
  EXPECT_FALSE(std::filesystem::exists(dir + "/README.md"));

  setenv("HF_HUB_OFFLINE", "1", 1);
  CliResult offline = RunMedassist({"pull", "med/o1", "--repo-type", "dataset"});
  EXPECT_EQ(offline.code, 0) << offline.err;
  EXPECT_EQ(offline.out, dir + "\n");
  CliResult missing = RunMedassist({"pull", "med/other"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("HF_HUB_OFFLINE"), std::string::npos) << missing.err;
}

TEST_F(PullCliTest, BadArgumentsAreClearErrors) {
  CliResult bad = RunMedassist({"pull", "../etc/passwd"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("not a Hugging Face repo id"), std::string::npos) << bad.err;
  CliResult type = RunMedassist({"pull", "a/b", "--repo-type", "space"});
  EXPECT_EQ(type.code, 1);
  EXPECT_NE(type.err.find("'space'"), std::string::npos) << type.err;
}

TEST_F(PullCliTest, PushThenPull) {
  medassist::testing::TempDir folder;
  folder.WriteFile("weights.safetensors", std::string(10000, 'w'));
  folder.WriteFile("config.json", "{}");
  CliResult no_token = RunMedassist({"push", folder.path(), "me/m"});
  EXPECT_EQ(no_token.code, 1);
  EXPECT_NE(no_token.err.find("HF_TOKEN"), std::string::npos) << no_token.err;
  setenv("HF_TOKEN", "hf_test_token", 1);
  CliResult push = RunMedassist({"push", folder.path(), "me/m", "--message", "v1"});
  ASSERT_EQ(push.code, 0) << push.err;
  EXPECT_NE(push.out.find(hub_.MainCommit(RepoType::kModel, "me/m")), std::string::npos)
      << push.out;
  EXPECT_EQ(push.err.find("hf_test_token"), std::string::npos);
  CliResult pull = RunMedassist({"pull", "me/m"});
  ASSERT_EQ(pull.code, 0) << pull.err;
  std::string dir = pull.out.substr(0, pull.out.size() - 1);
  EXPECT_EQ(Read(dir + "/weights.safetensors"), std::string(10000, 'w'));
}

// `medassist serve --model ORG/NAME` after a pull, as its own process with HF_HUB_OFFLINE=1 and
// the endpoint pointing nowhere: the model comes from the cache alone and answers.
TEST_F(PullCliTest, ServeRunsOfflineFromThePulledCache) {
  const std::string hf =
      medassist::testing::SharedDataPath("tiny-models/stories260K/stories260K-hf-llama");
  hub_.AddRepo(RepoType::kModel, "med/stories",
               {{.path = "config.json", .content = Read(hf + "/config.json")},
                {.path = "model.safetensors", .content = Read(hf + "/model.safetensors")}});
  CliResult pull = RunMedassist({"pull", "med/stories"});
  ASSERT_EQ(pull.code, 0) << pull.err;

  medassist::testing::TempDir work;
  const std::string log = work.path() + "/serve.log";
  const std::string cache = Config().cache_root;
  const std::string tokenizer =
      medassist::testing::SharedDataPath("tiny-models/stories260K/stories260K.gguf");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // the child: the server, its output to the log
    FILE* out = std::freopen(log.c_str(), "w", stderr);
    if (out == nullptr) _exit(127);
    setenv("HF_HUB_OFFLINE", "1", 1);
    setenv("HF_HUB_CACHE", cache.c_str(), 1);
    setenv("HF_ENDPOINT", "http://127.0.0.1:1", 1);  // nothing listens there
    execl(MEDASSIST_BINARY, MEDASSIST_BINARY, "serve", "--model", "med/stories", "--tokenizer",
          tokenizer.c_str(), "--host", "127.0.0.1", "--port", "0", "--kv-cache-mib", "16",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  // The port from the log line "listening on http://127.0.0.1:PORT", then /health until 200.
  int port = 0;
  int health = 0;
  for (int i = 0; i < 200 && health != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (port == 0) {
      const std::string text = Read(log);
      const size_t at = text.find("listening on http://127.0.0.1:");
      if (at != std::string::npos) port = std::atoi(text.c_str() + at + 30);
      continue;
    }
    httplib::Client c("127.0.0.1", port);
    if (auto r = c.Get("/health")) health = r->status;
  }
  ASSERT_EQ(health, 200) << Read(log);
  httplib::Client c("127.0.0.1", port);
  auto r = c.Post("/v1/completions", R"({"prompt":"Once upon a time","max_tokens":8})",
                  "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->body.find("\"text\""), std::string::npos);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << Read(log);
  EXPECT_NE(Read(log).find("ready: serving med/stories"), std::string::npos) << Read(log);
}

}  // namespace
}  // namespace medassist::hub::testing
