// The medassist command line, run in-process: exit codes, output, and the configuration page.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include "apps/cli.h"
#include "apps/options.h"
#include "support/test_support.h"

namespace medassist::apps {
namespace {

using medassist::testing::ReadFileOrFail;
using medassist::testing::SharedDataPath;

struct CliResult {
  int code;
  std::string out;
  std::string err;
};

CliResult RunMedassist(std::vector<std::string> args) {
  args.insert(args.begin(), "medassist");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  int code = RunCli(static_cast<int>(argv.size()), argv.data());
  std::fflush(stdout);
  std::string out = ::testing::internal::GetCapturedStdout();
  std::string err = ::testing::internal::GetCapturedStderr();
  return {code, out, err};
}

std::string Qwen() { return SharedDataPath("qwen-tokenizer"); }

TEST(CliTest, TokenizePrintsIds) {
  CliResult r = RunMedassist({"tokenize", "--tokenizer", Qwen(), "Hello world"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "9707 1879\n");
}

TEST(CliTest, TokenizeTokensAndSpecialParsing) {
  CliResult plain = RunMedassist({"tokenize", "--tokenizer", Qwen(), "--tokens", "<|im_end|>"});
  EXPECT_EQ(plain.code, 0);
  EXPECT_EQ(plain.out.find("151645"), std::string::npos) << plain.out;
  CliResult special = RunMedassist(
      {"tokenize", "--tokenizer", Qwen(), "--tokens", "--parse-special", "<|im_end|>"});
  EXPECT_EQ(special.out, "151645\t<|im_end|>\t\"<|im_end|>\"\n");
  CliResult words = RunMedassist({"tokenize", "--tokenizer", Qwen(), "--tokens", "Hello world\n"});
  EXPECT_EQ(words.out, "9707\tHello\t\"Hello\"\n1879\tĠworld\t\" world\"\n198\tĊ\t\"\\n\"\n");
}

TEST(CliTest, DetokenizeAcceptsSeveralSpellings) {
  for (std::string ids : {"9707 1879", "9707,1879", "[9707, 1879]"}) {
    CliResult r = RunMedassist({"detokenize", "--tokenizer", Qwen(), ids});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "Hello world") << ids;
  }
}

TEST(CliTest, DetokenizeRefusesBadIds) {
  CliResult r = RunMedassist({"detokenize", "--tokenizer", Qwen(), "12 999999"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("token id 999999 is outside the vocabulary"), std::string::npos) << r.err;
  CliResult word = RunMedassist({"detokenize", "--tokenizer", Qwen(), "12 abc"});
  EXPECT_EQ(word.code, 2);
  EXPECT_NE(word.err.find("'abc' is not a token id"), std::string::npos) << word.err;
}

TEST(CliTest, MissingTokenizerIsAClearError) {
  CliResult none = RunMedassist({"tokenize", "hi"});
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.err.find("no tokenizer given"), std::string::npos) << none.err;
  CliResult missing = RunMedassist({"tokenize", "--tokenizer", "/nonexistent/tok", "hi"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/tok"), std::string::npos) << missing.err;
}

TEST(CliTest, UnknownSubcommandAndBadLogLevelFail) {
  EXPECT_NE(RunMedassist({"frobnicate"}).code, 0);
  CliResult r = RunMedassist({"--log-level", "loud", "version"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("unknown log level 'loud'"), std::string::npos) << r.err;
}

TEST(CliTest, TokenizeBenchReportsJsonAndDumpsIds) {
  medassist::testing::TempDir dir;
  std::string corpus = dir.WriteFile("c.jsonl", "{\"Q\": \"Hello world\"}\n\n{\"Q\": \"Hi\"}\n");
  std::string dump = dir.path() + "/ids.txt";
  CliResult r = RunMedassist({"tokenize-bench", "--tokenizer", Qwen(), "--jsonl", corpus,
                              "--fields", "Q", "--repeat", "2", "--dump-ids", dump});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("\"docs\":2,\"bytes\":13,\"tokens\":3"), std::string::npos) << r.out;
  EXPECT_EQ(ReadFileOrFail(dump), "9707 1879\n13048\n");
  std::string bad = dir.WriteFile("bad.jsonl", "{\"Q\": 3}\n");
  CliResult e =
      RunMedassist({"tokenize-bench", "--tokenizer", Qwen(), "--jsonl", bad, "--fields", "Q"});
  EXPECT_EQ(e.code, 1);
  EXPECT_NE(e.err.find("bad.jsonl:1: field 'Q' must be a string"), std::string::npos) << e.err;
}

TEST(ConfigDocTest, CommittedPageMatchesTheOptionTable) {
  std::string committed =
      ReadFileOrFail(std::string(MEDASSIST_SOURCE_DIR) + "/docs/configuration.md");
  EXPECT_EQ(committed, ConfigurationMarkdown())
      << "docs/configuration.md is stale: run `medassist config-doc > docs/configuration.md`";
  CliResult r = RunMedassist({"config-doc"});
  EXPECT_EQ(r.out, ConfigurationMarkdown());
}

}  // namespace
}  // namespace medassist::apps

namespace medassist::apps {
namespace {

// Runs the real executable through the shell and returns its stdout.
std::string Shell(const std::string& command, int* exit_code) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  int status = ::pclose(pipe);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

TEST(CliProcessTest, TokenizeAndDetokenizeReadStdin) {
  std::string bin = MEDASSIST_BIN;
  std::string tok = medassist::testing::SharedDataPath("qwen-tokenizer");
  int code = -1;
  EXPECT_EQ(Shell("printf 'Hello world' | " + bin + " tokenize --tokenizer " + tok + " -", &code),
            "9707 1879\n");
  EXPECT_EQ(code, 0);
  EXPECT_EQ(Shell("echo '[9707, 1879]' | " + bin + " detokenize --tokenizer " + tok + " -", &code),
            "Hello world");
  EXPECT_EQ(code, 0);
  // The tokenizer can also come from the environment, as deployments set it.
  EXPECT_EQ(Shell("MEDASSIST_TOKENIZER=" + tok + " " + bin + " tokenize 'Hello world'", &code),
            "9707 1879\n");
  EXPECT_EQ(code, 0);
}

}  // namespace
}  // namespace medassist::apps
