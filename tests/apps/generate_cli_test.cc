// generate and chat, run as the real executable on stories260K against llama2.c's reference text.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "formats/json_util.h"
#include "runtime/greedy_generator.h"
#include "runtime/loaded_model.h"
#include "support/test_support.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/streaming_decoder.h"

namespace medassist::apps {
namespace {

using medassist::testing::ReadFileOrFail;
using medassist::testing::SharedDataPath;

std::string Stories(const std::string& rel) {
  return SharedDataPath("tiny-models/stories260K/" + rel);
}
std::string Gguf() { return Stories("stories260K.gguf"); }
std::string HfQwen2() { return Stories("stories260K-hf-qwen2"); }

nlohmann::json Reference() {
  Result<nlohmann::json> ref = formats::ReadJsonFile(Stories("stories260K_reference.json"));
  EXPECT_TRUE(ref.ok()) << ref.status().ToString();
  return ref.ok() ? *ref : nlohmann::json::object();
}

std::string ShellQuote(const std::string& s) {
  std::string out(1, '\'');
  for (char c : s) {
    if (c == '\'') {
      out.append("'\\''");
    } else {
      out.push_back(c);
    }
  }
  out.push_back('\'');
  return out;
}

struct ProcessRun {
  int code;
  std::string out, err;
};

// Runs medassist with args, stdin_text piped in, capturing stdout and stderr.
ProcessRun Medassist(const std::vector<std::string>& args, const std::string& stdin_text = "") {
  medassist::testing::TempDir dir;
  std::string in = dir.WriteFile("stdin", stdin_text);
  std::string cmd = ShellQuote(MEDASSIST_BIN);
  for (const std::string& a : args) cmd.append(" ").append(ShellQuote(a));
  cmd.append(" < ").append(in).append(" > ").append(dir.path()).append("/out 2> ");
  cmd.append(dir.path()).append("/err");
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadFileOrFail(dir.path() + "/out"),
          ReadFileOrFail(dir.path() + "/err")};
}

// The reference continuation of "Once upon a time": the text after the prompt.
std::string OnceUponATimeContinuation() {
  const nlohmann::json ref = Reference()["once_upon_a_time_greedy_16"];
  const std::string prompt = ref["prompt"].get<std::string>();
  const std::string full = ref["prompt_plus_generation_text"].get<std::string>();
  EXPECT_EQ(full.substr(0, prompt.size()), prompt);
  return full.substr(prompt.size());
}

TEST(GenerateCliTest, ContinuesOnceUponATimeAsTheReference) {
  // The reference holds 17 generated ids; its text ends with the 17th, a lone "▁" (a space).
  const std::string continuation = OnceUponATimeContinuation();
  ASSERT_EQ(continuation, ", there was a little girl named Lily. She loved to play ");
  ProcessRun r17 = Medassist(
      {"generate", "--model", Gguf(), "--prompt", "Once upon a time", "--max-tokens", "17"});
  EXPECT_EQ(r17.code, 0) << r17.err;
  EXPECT_EQ(r17.out, continuation + "\n");
  ProcessRun r16 = Medassist(
      {"generate", "--model", Gguf(), "--prompt", "Once upon a time", "--max-tokens", "16"});
  EXPECT_EQ(r16.code, 0) << r16.err;
  EXPECT_EQ(r16.out, continuation.substr(0, continuation.size() - 1) + "\n");
  EXPECT_NE(r16.err.find("prompt 5 tokens, generated 16 tokens"), std::string::npos) << r16.err;
  EXPECT_NE(r16.err.find("finish: length"), std::string::npos) << r16.err;
}

TEST(GenerateCliTest, EmptyPromptStartsFromBos) {
  ProcessRun r = Medassist({"generate", "--model", Gguf(), "--prompt", "", "--max-tokens", "200"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, Reference()["bos_greedy_200"]["text"].get<std::string>() + "\n");
}

TEST(GenerateCliTest, HfFolderWithTheGgufTokenizerGivesTheSameText) {
  ProcessRun r = Medassist({"generate", "--model", HfQwen2(), "--tokenizer", Gguf(), "--prompt",
                            "Once upon a time", "--max-tokens", "17"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, OnceUponATimeContinuation() + "\n");
}

TEST(GenerateCliTest, HfFolderWithoutTokenizerAsksForOne) {
  ProcessRun r = Medassist({"generate", "--model", HfQwen2(), "--prompt", "Once upon a time"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("has no tokenizer"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--tokenizer"), std::string::npos) << r.err;
}

TEST(GenerateCliTest, MissingModelIsAClearError) {
  ProcessRun path = Medassist({"generate", "--model", "/nonexistent/model.gguf", "--prompt", "hi"});
  EXPECT_EQ(path.code, 1);
  EXPECT_NE(path.err.find("model '/nonexistent/model.gguf': no such file or folder"),
            std::string::npos)
      << path.err;
  ProcessRun repo = Medassist({"generate", "--model", "NoSuchOrg/NoSuchModel", "--prompt", "hi"});
  EXPECT_EQ(repo.code, 1);
  EXPECT_NE(repo.err.find("medassist pull NoSuchOrg/NoSuchModel"), std::string::npos) << repo.err;
  ProcessRun bad =
      Medassist({"generate", "--model", Gguf(), "--prompt", "hi", "--max-tokens", "0"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("--max-tokens must be at least 1"), std::string::npos) << bad.err;
}

TEST(GenerateCliTest, PromptLongerThanTheContextIsRefused) {
  ProcessRun r =
      Medassist({"generate", "--model", Gguf(), "--prompt", "Once upon a time", "--context", "3"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("the prompt has 5 tokens, more than the context of 3"), std::string::npos)
      << r.err;
}

TEST(GenerateCliTest, ChatFlagUsesThePlainFallbackWithAWarning) {
  ProcessRun r =
      Medassist({"generate", "--model", Gguf(), "--prompt", "Hi", "--chat", "--max-tokens", "8"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("no chat template; using the plain"), std::string::npos) << r.err;
  // BOS + "User: Hi\nAssistant:": 17 tokens.
  EXPECT_NE(r.err.find("prompt 17 tokens, generated 8 tokens"), std::string::npos) << r.err;
  EXPECT_FALSE(r.out.empty());
}

// The first reply of a chat, computed in-process the way the chat command must: the plain
// template, greedy decoding, the text as the streaming decoder shows it.
std::string ExpectedFirstReply(const std::string& user, int max_tokens) {
  Result<runtime::LoadedModel> m = runtime::LoadModelWithTokenizer(Gguf(), "");
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  if (!m.ok()) return "";
  const tokenizer::ChatMessage msg{.role = "user", .content = user};
  Result<std::vector<int32_t>> prompt =
      tokenizer::ChatTemplate::Plain().Encode(m->tokenizer, std::span(&msg, 1), true);
  Result<runtime::GreedyGenerator> gen = runtime::GreedyGenerator::Create(m->model, 512);
  EXPECT_TRUE(prompt.ok() && gen.ok());
  if (!prompt.ok() || !gen.ok()) return "";
  Result<runtime::GenerateResult> r =
      gen->Generate(*prompt, {.max_new_tokens = max_tokens, .eos_ids = m->eos_ids});
  EXPECT_TRUE(r.ok());
  if (!r.ok()) return "";
  tokenizer::StreamingDecoder decoder(m->tokenizer, {.skip_special = true});
  std::string text;
  for (int32_t id : r->ids) text += decoder.Add(id);
  return text + decoder.Flush();
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

TEST(ChatCliTest, PipedConversationGetsTwoRepliesAndExitsCleanly) {
  ProcessRun r = Medassist({"chat", "--model", Gguf(), "--max-tokens", "12"},
                           "Tell me a story\nWhat happened next?\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("chat template: plain fallback"), std::string::npos) << r.err;
  EXPECT_EQ(Count(r.err, "finish: "), 2u) << r.err;
  const std::string first = ExpectedFirstReply("Tell me a story", 12);
  ASSERT_FALSE(first.empty());
  // The second turn encodes the whole conversation, the first reply included.
  Result<tokenizer::Tokenizer> tok = tokenizer::Tokenizer::Load(Gguf());
  ASSERT_TRUE(tok.ok());
  const std::vector<tokenizer::ChatMessage> conversation = {
      {.role = "user", .content = "Tell me a story"},
      {.role = "assistant", .content = first},
      {.role = "user", .content = "What happened next?"}};
  Result<std::vector<int32_t>> second_prompt =
      tokenizer::ChatTemplate::Plain().Encode(*tok, conversation, true);
  ASSERT_TRUE(second_prompt.ok());
  EXPECT_NE(r.err.find("prompt 24 tokens, generated 12 tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("prompt " + std::to_string(second_prompt->size()) +
                       " tokens, generated 12 tokens"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.out.substr(0, first.size() + 1), first + "\n") << r.out;
  EXPECT_GT(r.out.size(), first.size() + 2) << "no second reply: " << r.out;
  EXPECT_EQ(r.out.back(), '\n');
}

TEST(ChatCliTest, ResetAndExitCommands) {
  ProcessRun r = Medassist({"chat", "--model", Gguf(), "--max-tokens", "4"},
                           "Tell me a story\n/reset\nTell me a story\n/exit\nnever read\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("[conversation cleared]"), std::string::npos) << r.err;
  // After /reset the second turn has the same prompt as the first, so the same reply.
  EXPECT_EQ(Count(r.err, "prompt 24 tokens, generated 4 tokens"), 2u) << r.err;
  const std::string first = ExpectedFirstReply("Tell me a story", 4);
  EXPECT_EQ(r.out, first + "\n" + first + "\n");
}

// A chat running in a child process, its stdin a pipe the test writes to, as a user at a terminal
// would (but not a terminal: no "> " prompts).
class ChatProcess {
 public:
  explicit ChatProcess(const std::vector<std::string>& extra_args) {
    out_path_ = dir_.WriteFile("out", "");
    err_path_ = dir_.WriteFile("err", "");
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[0], STDIN_FILENO);
      ::close(fds[1]);
      ::dup2(::open(out_path_.c_str(), O_WRONLY | O_TRUNC), STDOUT_FILENO);
      ::dup2(::open(err_path_.c_str(), O_WRONLY | O_TRUNC), STDERR_FILENO);
      std::vector<std::string> args = {MEDASSIST_BIN, "chat", "--model", Gguf()};
      args.insert(args.end(), extra_args.begin(), extra_args.end());
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(MEDASSIST_BIN, argv.data());
      ::_exit(127);
    }
    ::close(fds[0]);
    stdin_fd_ = fds[1];
  }
  ~ChatProcess() {
    if (stdin_fd_ >= 0) ::close(stdin_fd_);
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  std::string out() const { return ReadFileOrFail(out_path_); }
  std::string err() const { return ReadFileOrFail(err_path_); }
  void Type(const std::string& text) {
    EXPECT_EQ(::write(stdin_fd_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  void Interrupt() { ::kill(pid_, SIGINT); }
  // Polls until pred() holds; false after 60 s.
  template <typename Pred>
  bool WaitFor(Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }
  bool WaitForErr(const std::string& text) {
    return WaitFor([&] { return err().find(text) != std::string::npos; });
  }
  // The exit status, or -1 when it did not exit by itself within 60 s or died of a signal.
  int WaitExit() {
    int status = 0;
    exited_ = WaitFor([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; });
    return exited_ && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  medassist::testing::TempDir dir_;
  std::string out_path_, err_path_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  bool exited_ = false;
};

TEST(ChatCliTest, CtrlCAtThePromptExitsWithStatusZero) {
  ChatProcess chat({});
  // The template line is logged once the SIGINT handler is in place; then it reads stdin.
  ASSERT_TRUE(chat.WaitForErr("chat template")) << chat.err();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  chat.Interrupt();
  EXPECT_EQ(chat.WaitExit(), 0) << chat.err();
}

TEST(ChatCliTest, CtrlCWhileGeneratingStopsOnlyThatReply) {
  // stories260K runs on without EOS: 2000 tokens take seconds, so the interrupt lands mid-reply.
  ChatProcess chat({"--max-tokens", "2000", "--context", "2048"});
  ASSERT_TRUE(chat.WaitForErr("chat template")) << chat.err();
  chat.Type("Tell me a story\n");
  ASSERT_TRUE(chat.WaitFor([&] { return chat.out().size() > 20; })) << chat.err();
  chat.Interrupt();
  ASSERT_TRUE(chat.WaitForErr("[interrupted]")) << chat.err();
  EXPECT_NE(chat.err().find("finish: cancelled"), std::string::npos) << chat.err();
  // Still running: the next line gets a reply (the partial one stays in the conversation).
  const size_t first_reply_size = chat.out().size();
  chat.Type("Go on\n");
  ASSERT_TRUE(chat.WaitFor([&] { return chat.out().size() > first_reply_size + 20; }));
  chat.Interrupt();
  ASSERT_TRUE(chat.WaitFor([&] { return Count(chat.err(), "[interrupted]") == 2; })) << chat.err();
  chat.Type("/exit\n");
  EXPECT_EQ(chat.WaitExit(), 0) << chat.err();
  EXPECT_EQ(Count(chat.err(), "finish: cancelled"), 2u) << chat.err();
}

// logits prints the reference forward pass's logits; after BOS they match llama2.c's reference.
TEST(LogitsCliTest, BosLogitsMatchTheReference) {
  const ProcessRun run = Medassist({"logits", "--model", Gguf(), "--token-ids", "1"});
  ASSERT_EQ(run.code, 0) << run.err;
  const nlohmann::json out = nlohmann::json::parse(run.out);
  EXPECT_EQ(out["ids"], nlohmann::json::array({1}));
  EXPECT_EQ(out["n_vocab"], 512);
  const nlohmann::json reference = Reference();
  const nlohmann::json& want = reference["bos_greedy_200"]["logits_pos0_after_BOS"];
  ASSERT_EQ(out["logits"].size(), 1u);
  ASSERT_EQ(out["logits"][0].size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(out["logits"][0][i].get<float>(), want[i].get<float>(), 1e-4f) << i;
  }
}

TEST(LogitsCliTest, WritesEveryPositionToAFile) {
  medassist::testing::TempDir dir;
  const std::string path = dir.path() + "/logits.json";
  const ProcessRun run =
      Medassist({"logits", "--model", HfQwen2(), "--token-ids", "1,403,407", "--out", path});
  ASSERT_EQ(run.code, 0) << run.err;
  const nlohmann::json out = nlohmann::json::parse(ReadFileOrFail(path));
  ASSERT_EQ(out["logits"].size(), 3u);
  EXPECT_EQ(out["logits"][2].size(), 512u);
}

TEST(LogitsCliTest, BadIdsAreClearErrors) {
  ProcessRun run = Medassist({"logits", "--model", Gguf(), "--token-ids", "1,x"});
  EXPECT_NE(run.code, 0);
  EXPECT_NE(run.err.find("--token-ids: 'x' is not a token id"), std::string::npos) << run.err;
  run = Medassist({"logits", "--model", Gguf(), "--token-ids", "1,512"});
  EXPECT_NE(run.code, 0);
  EXPECT_NE(run.err.find("token id 512 is outside the vocabulary of 512"), std::string::npos)
      << run.err;
}

// bench prints llama-bench style results; JSON for machines.
TEST(BenchCliTest, JsonHasBothTestsWithPositiveRates) {
  const ProcessRun run = Medassist({"bench", "--model", Gguf(), "-p", "8", "-n", "4", "-r", "2",
                                    "-d", "16", "--threads", "1", "--output", "json"});
  ASSERT_EQ(run.code, 0) << run.err;
  const nlohmann::json out = nlohmann::json::parse(run.out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["test"], "pp8 @ d16");
  EXPECT_EQ(out[1]["test"], "tg4 @ d16");
  for (const nlohmann::json& r : out) {
    EXPECT_GT(r["t_s_mean"].get<double>(), 0.0);
    EXPECT_EQ(r["threads"], 1);
    EXPECT_GT(r["peak_rss_mb"].get<double>(), 0.0);
  }
}

TEST(BenchCliTest, MarkdownTableAndBadArguments) {
  ProcessRun run = Medassist({"bench", "--model", Gguf(), "-p", "4", "-n", "0", "-r", "1"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("| pp4 |"), std::string::npos) << run.out;
  EXPECT_EQ(run.out.find("tg"), std::string::npos) << run.out;  // -n 0 skips the tg test
  run = Medassist({"bench", "--model", Gguf(), "-r", "0"});
  EXPECT_NE(run.code, 0);
  EXPECT_NE(run.err.find("-r >= 1"), std::string::npos) << run.err;
  run = Medassist({"bench", "--model", Gguf(), "-p", "8", "-n", "0", "-d", "2048"});
  EXPECT_NE(run.code, 0);
  EXPECT_NE(run.err.find("exceeds the model's context of 2048"), std::string::npos) << run.err;
  run = Medassist({"bench", "--model", Gguf(), "--output", "xml"});
  EXPECT_NE(run.code, 0);
  EXPECT_NE(run.err.find("--output must be md or json"), std::string::npos) << run.err;
}

// -c N: the engine's continuous batching, one request and N requests side by side.
TEST(BenchCliTest, ConcurrencyModeReportsOneAndNSequences) {
  ProcessRun run = Medassist({"bench", "--model", Gguf(), "-p", "6", "-n", "5", "-c", "3",
                              "--threads", "1", "--output", "json"});
  ASSERT_EQ(run.code, 0) << run.err;
  const nlohmann::json out = nlohmann::json::parse(run.out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0]["sequences"], 1);
  EXPECT_EQ(out[1]["sequences"], 3);
  for (int i = 0; i < 2; ++i) {
    EXPECT_GT(out[i]["decode_t_s"].get<double>(), 0.0);
    EXPECT_GT(out[i]["ttft_ms"].get<double>(), 0.0);
    EXPECT_GT(out[i]["itl_ms"].get<double>(), 0.0);
  }
  EXPECT_EQ(out[2]["test"], "shared-prefix");
  EXPECT_GT(out[2]["ttft_first_ms"].get<double>(), 0.0);
  EXPECT_GT(out[2]["ttft_second_ms"].get<double>(), 0.0);
  run = Medassist({"bench", "--model", Gguf(), "-p", "6", "-n", "1", "-c", "2"});
  EXPECT_NE(run.code, 0);
  EXPECT_NE(run.err.find("-c needs -n >= 2"), std::string::npos) << run.err;
  run = Medassist({"bench", "--model", Gguf(), "-c", "0"});
  EXPECT_NE(run.code, 0);
  EXPECT_NE(run.err.find("-c >= 1"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace medassist::apps
