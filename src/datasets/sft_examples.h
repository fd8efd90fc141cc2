// Training examples for supervised fine-tuning: SFT rows (sft_reader.h) -> token ids and a loss
// mask, rendered with the model's own chat template (tokenizer/chat_template.h), as HuatuoGPT-o1's
// SFT recipe does, with a mixed target:
//
//   a seeded share of rows (default 30%) learns reasoning plus answer
//     "## Thinking\n\n{cot}\n\n## Final Response\n\n{response}",
//   the rest the final answer only "{response}".
//
// The conversation is {system (only if given; else the template's default), user: question,
// assistant: target}. The loss covers every token after the prompt (the prompt = the conversation
// rendered up to and including the assistant header), so the closing <|im_end|> and the "\n" the
// ChatML template writes after it are learned too: exactly the labels of the SFT vectors
// (../shared/data/qwen-tokenizer/qwen2_5_sft_chat_vectors.json: -100 for the first
// num_prompt_tokens_masked ids, then the ids themselves).
//
// Every random choice is a function of (seed, row index), so it does not depend on the order rows
// arrive in, on which other rows exist, or on the epoch:
//   reasoning or answer target: RowUniform(seed, kReasoningStream, index) < reasoning_share;
//   eval split: RowUniform(seed, kEvalStream, index) < eval_share; or, with eval_count, the
//   eval_count kept rows of smallest RowHash(seed, kEvalStream, index) (then the set of kept rows
//   sets the cut-off, though still not their order);
//   the row index is SftRow::index (position in the file, malformed rows counted).
// RowHash is SplitMix64 (Steele, Lea, Flood 2014) applied twice:
//   SplitMix64(SplitMix64(seed ^ stream) + index).
// Shuffling per epoch is EpochOrder: Fisher-Yates over std::mt19937_64 (its output is fixed by the
// C++ standard) with our own unbiased bounded draw, so the order is the same on every library.
//
//   Result<SftExampleSet> set = BuildSftExamples(path, {}, {}, tok, chat);
//   for (int64_t i : EpochOrder(std::ssize(set->train), seed, epoch)) Train(set->train[i]);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "datasets/sft_reader.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace medassist::datasets {

// What happens to an example longer than max_length tokens.
enum class Overlong {
  kTruncate,  // keep the prompt, cut the reply; a prompt of max_length tokens or more: dropped
  kDrop,      // drop the row
};

struct SftMixOptions {
  double reasoning_share = 0.3;  // in [0, 1]
  uint64_t seed = 42;
  // Assistant targets; placeholders {question}, {cot} (Complex_CoT) and {response}.
  std::string reasoning_template = "## Thinking\n\n{cot}\n\n## Final Response\n\n{response}";
  std::string answer_template = "{response}";
  std::string system_prompt = {};  // "" = none given (ChatML then writes the template's default)
  int32_t max_length = 2048;       // tokens per example, prompt included
  Overlong overlong = Overlong::kTruncate;
  double eval_share = 0.05;  // in [0, 1); ignored when eval_count >= 0
  int64_t eval_count = -1;   // >= 0: exactly this many eval examples (fewer kept rows: refused)
};

// Checks shares, lengths and templates: an unknown placeholder is InvalidArgument naming it.
Status ValidateSftMixOptions(const SftMixOptions& options);

struct SftExample {
  std::vector<tokenizer::TokenId> ids;
  int32_t n_prompt_tokens = 0;  // leading ids masked from the loss
  bool with_reasoning = false;  // the reasoning target (else the answer only)
  bool truncated = false;       // the reply was cut at max_length
  int64_t row_index = 0;        // SftRow::index
  int64_t line = 0;             // SftRow::line
};

// Hugging Face labels (unshifted, the model shifts): -100 for the prompt, then the ids.
inline constexpr int32_t kIgnoreLabel = -100;
std::vector<int32_t> SftLabels(const SftExample& example);

struct SftExampleStats {
  int64_t rows_read = 0;              // well-formed rows from the reader
  int64_t rows_skipped = 0;           // malformed rows the reader skipped
  int64_t with_reasoning = 0;         // kept examples (train + eval) with the reasoning target
  int64_t reasoning_without_cot = 0;  // picked for reasoning, empty Complex_CoT: answer target
  int64_t truncated = 0;
  int64_t dropped = 0;                     // over max_length (kDrop), or the prompt alone fills it
  int64_t n_tokens = 0;                    // ids in kept examples, after truncation
  int64_t n_tokens_masked = 0;             // of which prompt (label -100)
  std::vector<std::string> problems = {};  // skipped and dropped rows, the first 20 of each
};

struct SftExampleSet {
  std::vector<SftExample> train;  // file order; shuffle with EpochOrder
  std::vector<SftExample> eval;   // file order; disjoint from train
  SftExampleStats stats;
};

// Stream tags: each choice hashes with its own, so the choices are independent of each other.
inline constexpr uint64_t kReasoningStream = 0x7265617330000001ULL;
inline constexpr uint64_t kEvalStream = 0x6576616c30000002ULL;
// SplitMix64(SplitMix64(seed ^ stream) + row_index).
uint64_t RowHash(uint64_t seed, uint64_t stream, int64_t row_index);
// [0, 1) from RowHash's top 53 bits.
double RowUniform(uint64_t seed, uint64_t stream, int64_t row_index);
// Whether the row learns the reasoning target (before the empty-CoT fallback).
bool PicksReasoning(const SftMixOptions& options, int64_t row_index);

// A target template parsed: each piece is literal text followed by a field (or none).
struct TemplatePiece {
  enum Field { kNone, kQuestion, kCot, kResponse };
  std::string text;
  Field field = kNone;
};

// Renders rows into examples: targets from the templates, ids and mask from the chat template.
// Holds references: tok and chat must outlive it.
class SftExampleEncoder {
 public:
  static Result<SftExampleEncoder> Create(const SftMixOptions& options,
                                          const tokenizer::Tokenizer& tok,
                                          const tokenizer::ChatTemplate& chat);

  // The assistant text for the row with either target.
  std::string Target(const SftRow& row, bool with_reasoning) const;
  // The full example, not cut to max_length. with_reasoning on a row without CoT still uses the
  // reasoning template (the builder falls back before calling).
  Result<SftExample> Encode(const SftRow& row, bool with_reasoning) const;

 private:
  SftExampleEncoder(const tokenizer::Tokenizer& tok, const tokenizer::ChatTemplate& chat)
      : tok_(&tok), chat_(&chat) {}
  static std::string Fill(const std::vector<TemplatePiece>& pieces, const SftRow& row);

  const tokenizer::Tokenizer* tok_;
  const tokenizer::ChatTemplate* chat_;
  std::vector<TemplatePiece> reasoning_, answer_;
  std::string system_prompt_;
};

enum class FitOutcome { kFits, kTruncated, kDropped };
// Applies max_length and the overlong policy to an example in place (kDropped leaves it as is).
FitOutcome FitToLength(SftExample& example, int32_t max_length, Overlong overlong);

// Streams the file's rows through the encoder: memory is the kept examples' ids plus one row.
Result<SftExampleSet> BuildSftExamples(const std::string& path, const SftReadOptions& read_options,
                                       const SftMixOptions& options,
                                       const tokenizer::Tokenizer& tok,
                                       const tokenizer::ChatTemplate& chat);

// A permutation of [0, n_examples) for the epoch: the same for the same (seed, epoch) on every
// platform, a different one per epoch.
std::vector<int64_t> EpochOrder(int64_t n_examples, uint64_t seed, int64_t epoch);

}  // namespace medassist::datasets
