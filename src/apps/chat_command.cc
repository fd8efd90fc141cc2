#include "apps/chat_command.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "apps/generation_session.h"
#include "apps/options.h"
#include "core/log.h"
#include "tokenizer/chat_template.h"

namespace medassist::apps {
namespace {

using tokenizer::ChatMessage;

// Set by SIGINT; lock-free, so storing to it is async-signal-safe.
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void OnSigint(int /*signo*/) { g_interrupted.store(true); }

// Installs the SIGINT handler for its lifetime. No SA_RESTART: a Ctrl-C at the prompt interrupts
// the blocking read, which is how the loop notices it and exits.
class SigintScope {
 public:
  SigintScope() {
    struct sigaction sa {};
    sa.sa_handler = OnSigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    installed_ = sigaction(SIGINT, &sa, &previous_) == 0;
  }
  ~SigintScope() {
    if (installed_) sigaction(SIGINT, &previous_, nullptr);
  }
  SigintScope(const SigintScope&) = delete;
  SigintScope& operator=(const SigintScope&) = delete;

 private:
  struct sigaction previous_ {};
  bool installed_ = false;
};

struct ChatArgs {
  std::string model, tokenizer, system;
  int max_tokens = 0;
  int context = 0;
  ComputeArgs compute;
};

// One line of stdin without its line ending; nullopt at end of input or on Ctrl-C.
std::optional<std::string> ReadUserLine(bool interactive) {
  if (interactive) {
    std::fputs("> ", stdout);
    std::fflush(stdout);
  }
  char* buf = nullptr;
  size_t cap = 0;
  const ssize_t n = ::getline(&buf, &cap, stdin);
  std::optional<std::string> line;
  if (n >= 0) line.emplace(buf, static_cast<size_t>(n));
  std::free(buf);
  if (!line) return std::nullopt;
  while (!line->empty() && (line->back() == '\n' || line->back() == '\r')) line->pop_back();
  return line;
}

class ChatSession {
 public:
  ChatSession(const ChatArgs& args, runtime::LoadedModel& m, runtime::GreedyGenerator& gen,
              tokenizer::ChatTemplate tmpl)
      : args_(args), m_(m), gen_(gen), tmpl_(std::move(tmpl)) {
    Reset();
  }

  void Reset() {
    conversation_.clear();
    if (!args_.system.empty()) conversation_.push_back({.role = "system", .content = args_.system});
  }

  // One user turn: the reply is streamed and kept in the conversation, even when interrupted.
  void Turn(const std::string& user_text) {
    conversation_.push_back({.role = "user", .content = user_text});
    Result<StreamedReply> reply = Reply();
    if (!reply.ok()) {
      // Typically the conversation outgrew the context: the turn is dropped, the user may /reset.
      std::fprintf(stderr, "error: %s (type /reset to start a new conversation)\n",
                   reply.status().ToString().c_str());
      conversation_.pop_back();
      return;
    }
    if (reply->result.finish == runtime::FinishReason::kCancelled) {
      std::fputs("[interrupted]\n", stderr);
    } else if (reply->result.finish == runtime::FinishReason::kContext) {
      std::fputs("[the context is full: type /reset to start a new conversation]\n", stderr);
    }
    conversation_.push_back({.role = "assistant", .content = reply->text});
  }

 private:
  // The whole conversation is encoded and prefilled again each turn (GreedyGenerator::Generate).
  Result<StreamedReply> Reply() {
    ASSIGN_OR_RETURN(std::vector<tokenizer::TokenId> prompt,
                     tmpl_.Encode(m_.tokenizer, conversation_, /*add_generation_prompt=*/true));
    return GenerateAndStream(gen_, m_, prompt,
                             {.max_new_tokens = args_.max_tokens, .cancel = &g_interrupted});
  }

  const ChatArgs& args_;
  runtime::LoadedModel& m_;
  runtime::GreedyGenerator& gen_;
  tokenizer::ChatTemplate tmpl_;
  std::vector<ChatMessage> conversation_;
};

void LogTemplate(const tokenizer::ChatTemplate& tmpl) {
  if (tmpl.format() == tokenizer::ChatFormat::kChatMl) {
    spdlog::info("chat template: ChatML");
  } else {
    spdlog::info(
        "chat template: plain fallback (\"User: ...\\nAssistant:\"); the model was not "
        "trained on it, so replies may run on until --max-tokens");
  }
}

int RunChat(const ChatArgs& a) {
  if (a.max_tokens < 1) {
    std::fprintf(stderr, "error: --max-tokens must be at least 1, got %d\n", a.max_tokens);
    return 1;
  }
  std::optional<runtime::LoadedModel> m = LoadModelOrReport(a.model, a.tokenizer);
  if (!m || !PrepareWeightsOrReport(m->model, a.compute)) return 1;
  Result<tokenizer::ChatTemplate> tmpl =
      tokenizer::ChatTemplate::ForTokenizer(m->tokenizer, /*allow_fallback=*/true);
  if (!tmpl.ok()) {
    std::fprintf(stderr, "error: %s\n", tmpl.status().ToString().c_str());
    return 1;
  }
  Compute compute = MakeCompute(m->model, a.compute);
  std::optional<runtime::GreedyGenerator> gen =
      CreateGeneratorOrReport(*m, a.context, compute.forward.get());
  if (!gen) return 1;
  SigintScope sigint;
  LogTemplate(*tmpl);  // after the handler is in place: tests wait for this line to send SIGINT
  const bool interactive = ::isatty(STDIN_FILENO) != 0;
  ChatSession session(a, *m, *gen, std::move(tmpl).value());
  while (true) {
    g_interrupted.store(false);
    std::optional<std::string> line = ReadUserLine(interactive);
    if (!line || g_interrupted.load() || *line == "/exit") break;
    if (*line == "/reset") {
      session.Reset();
      std::fputs("[conversation cleared]\n", stderr);
    } else if (!line->empty()) {
      session.Turn(*line);
    }
  }
  if (interactive) std::fputs("\n", stdout);
  return 0;
}

}  // namespace

void AddChatCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ChatArgs>();
  CLI::App* cmd = app.add_subcommand(
      "chat", "Interactive chat on stdin/stdout (/reset clears, /exit or Ctrl-D leaves)");
  AddDeclaredOption(*cmd, "--model", args->model);
  AddDeclaredOption(*cmd, "--tokenizer", args->tokenizer);
  AddDeclaredOption(*cmd, "--max-tokens", args->max_tokens);
  AddDeclaredOption(*cmd, "--context", args->context);
  AddDeclaredOption(*cmd, "--system", args->system);
  AddComputeOptions(*cmd, args->compute);
  cmd->callback([args, exit_code] { *exit_code = RunChat(*args); });
}

}  // namespace medassist::apps
