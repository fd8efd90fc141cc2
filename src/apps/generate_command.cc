#include "apps/generate_command.h"

#include <cstdio>
#include <memory>

#include "apps/generation_session.h"
#include "apps/options.h"
#include "core/log.h"
#include "tokenizer/chat_template.h"

namespace medassist::apps {
namespace {

using tokenizer::TokenId;

struct GenerateArgs {
  std::string model, tokenizer, prompt;
  int max_tokens = 0;
  int context = 0;
  bool chat = false;
  ComputeArgs compute;
};

// Without --chat: the raw text, with BOS when the tokenizer adds one; an empty text starts from
// BOS alone. With --chat: one user message in the model's chat template, ready for the reply.
Result<std::vector<TokenId>> EncodePrompt(const tokenizer::Tokenizer& tok, const GenerateArgs& a) {
  if (a.chat) {
    ASSIGN_OR_RETURN(tokenizer::ChatTemplate tmpl,
                     tokenizer::ChatTemplate::ForTokenizer(tok, /*allow_fallback=*/true));
    const tokenizer::ChatMessage user{.role = "user", .content = a.prompt};
    return tmpl.Encode(tok, std::span(&user, 1), /*add_generation_prompt=*/true);
  }
  std::vector<TokenId> ids = tok.Encode(a.prompt, {.add_bos = tok.add_bos()});
  if (ids.empty() && tok.bos_id()) ids.push_back(*tok.bos_id());
  if (ids.empty()) {
    return InvalidArgument(
        "the prompt is empty and the tokenizer has no BOS token to start from; "
        "give some text with --prompt");
  }
  return ids;
}

int RunGenerate(const GenerateArgs& a) {
  if (a.max_tokens < 1) {
    std::fprintf(stderr, "error: --max-tokens must be at least 1, got %d\n", a.max_tokens);
    return 1;
  }
  std::optional<runtime::LoadedModel> m = LoadModelOrReport(a.model, a.tokenizer);
  if (!m || !PrepareWeightsOrReport(m->model, a.compute)) return 1;
  Result<std::vector<TokenId>> prompt = EncodePrompt(m->tokenizer, a);
  if (!prompt.ok()) {
    std::fprintf(stderr, "error: %s\n", prompt.status().ToString().c_str());
    return 1;
  }
  // No more KV cache than this one sequence can use.
  const int64_t needed = static_cast<int64_t>(prompt->size()) + a.max_tokens;
  Compute compute = MakeCompute(m->model, a.compute);
  std::optional<runtime::GreedyGenerator> gen =
      CreateGeneratorOrReport(*m, std::min<int64_t>(needed, a.context), compute.forward.get());
  if (!gen) return 1;
  Result<StreamedReply> reply = GenerateAndStream(
      *gen, *m, *prompt, {.max_new_tokens = a.max_tokens, .continues_prompt = !a.chat});
  if (!reply.ok()) {
    std::fprintf(stderr, "error: %s\n", reply.status().ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

void AddGenerateCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd =
      app.add_subcommand("generate", "Greedy continuation of a prompt, streamed to stdout");
  AddDeclaredOption(*cmd, "--model", args->model);
  AddDeclaredOption(*cmd, "--tokenizer", args->tokenizer);
  AddDeclaredOption(*cmd, "--prompt", args->prompt)->required();
  AddDeclaredOption(*cmd, "--max-tokens", args->max_tokens);
  AddDeclaredOption(*cmd, "--context", args->context);
  AddDeclaredFlag(*cmd, "--chat", args->chat);
  AddComputeOptions(*cmd, args->compute);
  cmd->callback([args, exit_code] { *exit_code = RunGenerate(*args); });
}

}  // namespace medassist::apps
