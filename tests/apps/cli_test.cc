// The medassist command line, run in-process: exit codes, output, and the configuration page.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "apps/cli.h"
#include "apps/options.h"
#include "formats/safetensors_model.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

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

std::string TinyQwen2Config() {
  return SharedDataPath("tiny-models/stories260K/stories260K-hf-qwen2/config.json");
}

TEST(CliTest, SynthModelWritesALoadableFolder) {
  medassist::testing::TempDir dir;
  // A config folder with a generation_config.json beside the config: both are copied.
  std::filesystem::create_directory(dir.path() + "/src");
  std::string config = dir.WriteFile("src/config.json", ReadFileOrFail(TinyQwen2Config()));
  dir.WriteFile("src/generation_config.json", "{\"temperature\": 0.7}\n");
  const std::string out = dir.path() + "/model";
  CliResult r = RunMedassist(
      {"synth-model", "--config", config, "--out", out, "--seed", "1", "--dtype", "f32"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Qwen2ForCausalLM: 5 layers"), std::string::npos) << r.out;
  EXPECT_EQ(ReadFileOrFail(out + "/generation_config.json"), "{\"temperature\": 0.7}\n");
  Result<formats::SafetensorsModel> m = formats::SafetensorsModel::OpenFolder(out);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_NE(m->Find("model.layers.0.self_attn.q_proj.bias"), nullptr);
  EXPECT_EQ(m->Find("model.layers.0.self_attn.q_proj.bias")->dtype,
            formats::SafetensorsDtype::kF32);
  // The copied Qwen2.5 tokenizer loads from the folder.
  Result<tokenizer::Tokenizer> tok = tokenizer::Tokenizer::Load(out);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ(tok->Encode("Hello world", {}), (std::vector<tokenizer::TokenId>{9707, 1879}));
}

TEST(CliTest, SynthModelTakesTokenizerFilesFromAnotherFolder) {
  medassist::testing::TempDir dir;
  const std::string out = dir.path() + "/model";
  CliResult r = RunMedassist({"synth-model", "--config", TinyQwen2Config(), "--out", out,
                              "--tokenizer-files", SharedDataPath("qwen-tokenizer")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadFileOrFail(out + "/merges.txt"),
            ReadFileOrFail(SharedDataPath("qwen-tokenizer/merges.txt")));
}

TEST(CliTest, SynthModelRefusalsAreClearAndLeaveNothing) {
  medassist::testing::TempDir dir;
  const std::string out = dir.path() + "/model";
  CliResult dtype =
      RunMedassist({"synth-model", "--config", TinyQwen2Config(), "--out", out, "--dtype", "f16"});
  EXPECT_EQ(dtype.code, 1);
  EXPECT_NE(dtype.err.find("unknown dtype 'f16' (use bf16 or f32)"), std::string::npos)
      << dtype.err;
  CliResult none = RunMedassist({"synth-model", "--out", out});
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.err.find("needs --config"), std::string::npos) << none.err;
  CliResult missing =
      RunMedassist({"synth-model", "--config", dir.path() + "/nope.json", "--out", out});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("nope.json"), std::string::npos) << missing.err;
  std::string bad = dir.WriteFile("bad.json", "{\"architectures\": 3}");
  CliResult invalid = RunMedassist({"synth-model", "--config", bad, "--out", out});
  EXPECT_EQ(invalid.code, 1);
  EXPECT_NE(invalid.err.find("bad.json"), std::string::npos) << invalid.err;
  CliResult negative =
      RunMedassist({"synth-model", "--config", TinyQwen2Config(), "--out", out, "--seed", "-1"});
  EXPECT_EQ(negative.code, 1);
  CliResult no_tokenizer = RunMedassist({"synth-model", "--config", TinyQwen2Config(), "--out", out,
                                         "--tokenizer-files", dir.path() + "/none"});
  EXPECT_EQ(no_tokenizer.code, 1);
  EXPECT_NE(no_tokenizer.err.find(dir.path() + "/none"), std::string::npos) << no_tokenizer.err;
  std::filesystem::create_directory(out);
  dir.WriteFile("model/x", "keep");
  CliResult full = RunMedassist({"synth-model", "--config", TinyQwen2Config(), "--out", out});
  EXPECT_EQ(full.code, 1);
  EXPECT_NE(full.err.find("is not empty"), std::string::npos) << full.err;
  EXPECT_EQ(ReadFileOrFail(out + "/x"), "keep");
  // Only bad.json and model/ are there: no temporary folder was left behind.
  std::filesystem::directory_iterator entries(dir.path());
  EXPECT_EQ(std::distance(begin(entries), end(entries)), 2);
}

TEST(CliTest, ServeRefusesABadRemoteConfiguration) {
  CliResult no_url = RunMedassist({"serve", "--backend", "remote", "--port", "0"});
  EXPECT_EQ(no_url.code, 1);
  EXPECT_NE(no_url.err.find("--endpoint-url or HF_ENDPOINT_URL"), std::string::npos) << no_url.err;
  CliResult bad_backend = RunMedassist({"serve", "--backend", "elsewhere", "--port", "0"});
  EXPECT_EQ(bad_backend.code, 1);
  EXPECT_NE(bad_backend.err.find("must be local or remote"), std::string::npos);
  CliResult bad_protocol = RunMedassist({"serve", "--endpoint-url", "http://127.0.0.1:1",
                                         "--remote-protocol", "grpc", "--port", "0"});
  EXPECT_NE(bad_protocol.code, 0);
  EXPECT_NE(bad_protocol.err.find("--remote-protocol"), std::string::npos) << bad_protocol.err;
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
