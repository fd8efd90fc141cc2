#include "apps/tokenize_commands.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>

#include "apps/options.h"
#include "core/file.h"
#include "core/log.h"
#include "formats/json_util.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace medassist::apps {
namespace {

using tokenizer::TokenId;
using tokenizer::Tokenizer;

std::string ReadStdin() {
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

// Loads the tokenizer, or prints why not and returns nullopt.
std::optional<Tokenizer> LoadTokenizerOrReport(const std::string& path) {
  if (path.empty()) {
    std::fprintf(stderr, "error: no tokenizer given (--tokenizer PATH or MEDASSIST_TOKENIZER)\n");
    return std::nullopt;
  }
  auto start = std::chrono::steady_clock::now();
  Result<Tokenizer> tok = Tokenizer::Load(path);
  if (!tok.ok()) {
    std::fprintf(stderr, "error: %s\n", tok.status().ToString().c_str());
    return std::nullopt;
  }
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  spdlog::debug("loaded tokenizer {} ({} tokens) in {:.1f} ms", path, tok->vocab_size(), ms);
  return std::move(tok).value();
}

// Parses "1 2 3", "1,2,3" or "[1, 2, 3]" into ids; reports the first bad one.
Result<std::vector<TokenId>> ParseIds(const std::string& text, const Tokenizer& tok) {
  std::vector<TokenId> ids;
  std::string cleaned = text;
  for (char& c : cleaned) {
    if (c == ',' || c == '[' || c == ']') c = ' ';
  }
  std::istringstream in(cleaned);
  std::string word;
  while (in >> word) {
    char* end = nullptr;
    long long v = std::strtoll(word.c_str(), &end, 10);
    if (*end != '\0') return InvalidArgument("'" + word + "' is not a token id");
    if (v < 0 || v >= tok.vocab_size()) {
      return InvalidArgument("token id " + word + " is outside the vocabulary (0.." +
                             std::to_string(tok.vocab_size() - 1) + ")");
    }
    ids.push_back(static_cast<TokenId>(v));
  }
  return ids;
}

struct TokenizeArgs {
  std::string tokenizer;
  bool ids = false, tokens = false, parse_special = false, add_bos = false;
  std::string text;
};

int RunTokenize(const TokenizeArgs& a) {
  std::optional<Tokenizer> tok = LoadTokenizerOrReport(a.tokenizer);
  if (!tok) return 1;
  std::string text = a.text == "-" ? ReadStdin() : a.text;
  std::vector<TokenId> ids =
      tok->Encode(text, {.parse_special = a.parse_special, .add_bos = a.add_bos});
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (a.tokens) {
      // id, vocabulary form, and the token's text as a JSON string (a byte of a split character
      // shows as U+FFFD there).
      std::string shown = tokenizer::RepairUtf8(tok->TokenBytes(ids[i]));
      out += std::to_string(ids[i]) + "\t" + tok->TokenPiece(ids[i]) + "\t" +
             nlohmann::json(shown).dump() + "\n";
    } else {
      if (i > 0) out += ' ';
      out += std::to_string(ids[i]);
    }
  }
  if (!a.tokens) out += '\n';
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace

void AddTokenizeCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Text -> token ids (TEXT, or - for stdin)");
  AddDeclaredOption(*cmd, "--tokenizer", args->tokenizer);
  auto* ids = AddDeclaredFlag(*cmd, "--ids", args->ids);
  AddDeclaredFlag(*cmd, "--tokens", args->tokens)->excludes(ids);
  AddDeclaredFlag(*cmd, "--parse-special", args->parse_special);
  AddDeclaredFlag(*cmd, "--add-bos", args->add_bos);
  cmd->add_option("text", args->text, "Text to tokenize, or - to read stdin")->required();
  cmd->callback([args, exit_code] { *exit_code = RunTokenize(*args); });
}

void AddDetokenizeCommand(CLI::App& app, int* exit_code) {
  struct Args {
    std::string tokenizer;
    bool skip_special = false;
    std::vector<std::string> ids;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("detokenize", "Token ids -> text (IDS..., or - for stdin)");
  AddDeclaredOption(*cmd, "--tokenizer", args->tokenizer);
  AddDeclaredFlag(*cmd, "--skip-special", args->skip_special);
  cmd->add_option("ids", args->ids, "Ids (\"1 2 3\", \"1,2,3\" or \"[1,2,3]\"), or - for stdin")
      ->required();
  cmd->callback([args, exit_code] {
    std::optional<Tokenizer> tok = LoadTokenizerOrReport(args->tokenizer);
    if (!tok) {
      *exit_code = 1;
      return;
    }
    std::string text;
    for (const std::string& part : args->ids) text += (part == "-" ? ReadStdin() : part) + " ";
    Result<std::vector<TokenId>> ids = ParseIds(text, *tok);
    if (!ids.ok()) {
      std::fprintf(stderr, "error: %s\n", ids.status().message().c_str());
      *exit_code = 2;
      return;
    }
    std::string out = tok->Decode(*ids, {.skip_special = args->skip_special});
    std::fwrite(out.data(), 1, out.size(), stdout);
    *exit_code = 0;
  });
}

}  // namespace medassist::apps
