#include "datasets/sft_examples.h"

#include <algorithm>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace medassist::datasets {
namespace {

constexpr size_t kMaxProblemsKept = 20;
// Indexed by TemplatePiece::Field.
constexpr const char* kFieldNames[] = {"", "question", "cot", "response"};

uint64_t SplitMix64(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// "{name}" with name of letters, digits and '_' is a placeholder; any other '{' is literal text.
Result<std::vector<TemplatePiece>> ParseTemplate(const std::string& name, const std::string& tmpl) {
  std::vector<TemplatePiece> pieces(1);
  for (size_t i = 0; i < tmpl.size(); ++i) {
    size_t end = i + 1;
    while (tmpl[i] == '{' && end < tmpl.size() && IsNameChar(tmpl[end])) ++end;
    if (tmpl[i] != '{' || end >= tmpl.size() || tmpl[end] != '}') {
      pieces.back().text += tmpl[i];
      continue;
    }
    std::string field = tmpl.substr(i + 1, end - i - 1);
    auto known = std::find(std::begin(kFieldNames) + 1, std::end(kFieldNames), field);
    if (known == std::end(kFieldNames)) {
      return InvalidArgument(fmt::format(
          "{}: unknown placeholder '{{{}}}' (expected {{question}}, {{cot}} or {{response}})", name,
          field));
    }
    pieces.back().field = static_cast<TemplatePiece::Field>(known - std::begin(kFieldNames));
    pieces.emplace_back();
    i = end;
  }
  return pieces;
}

// Unbiased draw in [0, bound) by rejection: values below 2^64 mod bound are redrawn.
uint64_t BoundedDraw(std::mt19937_64& gen, uint64_t bound) {
  const uint64_t threshold = (0 - bound) % bound;
  uint64_t r = gen();
  while (r < threshold) r = gen();
  return r % bound;
}

void KeepProblem(std::vector<std::string>& problems, size_t& n_kept, std::string problem) {
  if (n_kept >= kMaxProblemsKept) return;
  ++n_kept;
  problems.push_back(std::move(problem));
}

}  // namespace

Status ValidateSftMixOptions(const SftMixOptions& o) {
  if (!(o.reasoning_share >= 0 && o.reasoning_share <= 1)) {
    return InvalidArgument(fmt::format("reasoning_share {} is not in [0, 1]", o.reasoning_share));
  }
  if (!(o.eval_share >= 0 && o.eval_share < 1)) {
    return InvalidArgument(fmt::format("eval_share {} is not in [0, 1)", o.eval_share));
  }
  if (o.eval_count < -1) {
    return InvalidArgument(
        fmt::format("eval_count {} is negative (-1: use eval_share)", o.eval_count));
  }
  if (o.max_length < 2) {
    return InvalidArgument(fmt::format("max_length {} leaves no room for a reply", o.max_length));
  }
  RETURN_IF_ERROR(ParseTemplate("reasoning_template", o.reasoning_template).status());
  return ParseTemplate("answer_template", o.answer_template).status();
}

std::vector<int32_t> SftLabels(const SftExample& example) {
  std::vector<int32_t> labels(example.ids.begin(), example.ids.end());
  size_t n = std::min(labels.size(), static_cast<size_t>(example.n_prompt_tokens));
  std::fill(labels.begin(), labels.begin() + static_cast<std::ptrdiff_t>(n), kIgnoreLabel);
  return labels;
}

uint64_t RowHash(uint64_t seed, uint64_t stream, int64_t row_index) {
  return SplitMix64(SplitMix64(seed ^ stream) + static_cast<uint64_t>(row_index));
}

double RowUniform(uint64_t seed, uint64_t stream, int64_t row_index) {
  return static_cast<double>(RowHash(seed, stream, row_index) >> 11) * 0x1.0p-53;
}

bool PicksReasoning(const SftMixOptions& options, int64_t row_index) {
  return RowUniform(options.seed, kReasoningStream, row_index) < options.reasoning_share;
}

Result<SftExampleEncoder> SftExampleEncoder::Create(const SftMixOptions& options,
                                                    const tokenizer::Tokenizer& tok,
                                                    const tokenizer::ChatTemplate& chat) {
  RETURN_IF_ERROR(ValidateSftMixOptions(options));
  SftExampleEncoder encoder(tok, chat);
  ASSIGN_OR_RETURN(encoder.reasoning_,
                   ParseTemplate("reasoning_template", options.reasoning_template));
  ASSIGN_OR_RETURN(encoder.answer_, ParseTemplate("answer_template", options.answer_template));
  encoder.system_prompt_ = options.system_prompt;
  return encoder;
}

std::string SftExampleEncoder::Fill(const std::vector<TemplatePiece>& pieces, const SftRow& row) {
  std::string out;
  for (const TemplatePiece& p : pieces) {
    out += p.text;
    if (p.field == TemplatePiece::kQuestion) out += row.question;
    if (p.field == TemplatePiece::kCot) out += row.reasoning;
    if (p.field == TemplatePiece::kResponse) out += row.response;
  }
  return out;
}

std::string SftExampleEncoder::Target(const SftRow& row, bool with_reasoning) const {
  return Fill(with_reasoning ? reasoning_ : answer_, row);
}

Result<SftExample> SftExampleEncoder::Encode(const SftRow& row, bool with_reasoning) const {
  std::vector<tokenizer::ChatMessage> messages;
  if (!system_prompt_.empty()) messages.push_back({"system", system_prompt_});
  messages.push_back({"user", row.question});
  messages.push_back({"assistant", Target(row, with_reasoning)});
  Result<tokenizer::TrainingExample> encoded = chat_->EncodeForTraining(*tok_, messages);
  if (!encoded.ok()) {
    return encoded.status().WithContext(fmt::format("row {} (line {})", row.index + 1, row.line));
  }
  SftExample example;
  example.ids = std::move(encoded->ids);
  example.n_prompt_tokens = static_cast<int32_t>(encoded->n_prompt_tokens);
  example.with_reasoning = with_reasoning;
  example.row_index = row.index;
  example.line = row.line;
  return example;
}

FitOutcome FitToLength(SftExample& example, int32_t max_length, Overlong overlong) {
  CHECK(max_length > 0);
  const size_t max = static_cast<size_t>(max_length);
  if (example.ids.size() <= max) return FitOutcome::kFits;
  if (overlong == Overlong::kDrop || example.n_prompt_tokens >= max_length) {
    return FitOutcome::kDropped;
  }
  example.ids.resize(max);
  example.truncated = true;
  return FitOutcome::kTruncated;
}

namespace {

// Moves the eval rows out of all (file order kept in both halves).
Status SplitEval(std::vector<SftExample>& all, const SftMixOptions& o, SftExampleSet& set) {
  std::vector<bool> is_eval(all.size());
  if (o.eval_count >= 0) {
    if (o.eval_count >= static_cast<int64_t>(all.size()) && o.eval_count > 0) {
      return InvalidArgument(fmt::format("eval_count {} leaves no training examples ({} kept)",
                                         o.eval_count, all.size()));
    }
    // The eval_count smallest hashes (ties, by position = row index: all is in file order).
    std::vector<std::pair<uint64_t, size_t>> keys(all.size());
    for (size_t i = 0; i < all.size(); ++i) {
      keys[i] = {RowHash(o.seed, kEvalStream, all[i].row_index), i};
    }
    auto nth = keys.begin() + static_cast<std::ptrdiff_t>(o.eval_count);
    std::nth_element(keys.begin(), nth, keys.end());
    for (auto it = keys.begin(); it != nth; ++it) is_eval[it->second] = true;
  } else {
    for (size_t i = 0; i < all.size(); ++i) {
      is_eval[i] = RowUniform(o.seed, kEvalStream, all[i].row_index) < o.eval_share;
    }
  }
  for (size_t i = 0; i < all.size(); ++i) {
    (is_eval[i] ? set.eval : set.train).push_back(std::move(all[i]));
  }
  all.clear();
  return Status::Ok();
}

}  // namespace

Result<SftExampleSet> BuildSftExamples(const std::string& path, const SftReadOptions& read_options,
                                       const SftMixOptions& options,
                                       const tokenizer::Tokenizer& tok,
                                       const tokenizer::ChatTemplate& chat) {
  ASSIGN_OR_RETURN(SftExampleEncoder encoder, SftExampleEncoder::Create(options, tok, chat));
  SftExampleSet set;
  SftExampleStats& stats = set.stats;
  std::vector<SftExample> all;
  size_t n_drops_kept = 0;
  Status failure;
  Result<SftReadStats> read = ReadSftRows(path, read_options, [&](SftRow row) {
    bool reasoning = PicksReasoning(options, row.index);
    if (reasoning && row.reasoning.empty()) {
      reasoning = false;
      ++stats.reasoning_without_cot;
    }
    Result<SftExample> example = encoder.Encode(row, reasoning);
    if (!example.ok()) {
      failure = example.status();
      return false;
    }
    size_t n_ids = example->ids.size();
    FitOutcome fit = FitToLength(*example, options.max_length, options.overlong);
    if (fit == FitOutcome::kDropped) {
      ++stats.dropped;
      std::string why =
          fmt::format("row {} (line {}): {} tokens ({} of prompt) over max_length {}; dropped",
                      row.index + 1, row.line, n_ids, example->n_prompt_tokens, options.max_length);
      spdlog::warn("{}", why);
      KeepProblem(stats.problems, n_drops_kept, std::move(why));
      return true;
    }
    if (fit == FitOutcome::kTruncated) ++stats.truncated;
    if (example->with_reasoning) ++stats.with_reasoning;
    stats.n_tokens += static_cast<int64_t>(example->ids.size());
    stats.n_tokens_masked += example->n_prompt_tokens;
    all.push_back(std::move(example).value());
    return true;
  });
  if (!read.ok()) return read.status();
  if (!failure.ok()) return failure.WithContext(path);
  stats.rows_read = read->rows;
  stats.rows_skipped = read->skipped;
  stats.problems.insert(stats.problems.begin(), read->problems.begin(), read->problems.end());
  RETURN_IF_ERROR(SplitEval(all, options, set));
  return set;
}

std::vector<int64_t> EpochOrder(int64_t n_examples, uint64_t seed, int64_t epoch) {
  CHECK(n_examples >= 0);
  std::vector<int64_t> order(static_cast<size_t>(n_examples));
  for (int64_t i = 0; i < n_examples; ++i) order[static_cast<size_t>(i)] = i;
  std::mt19937_64 gen(
      SplitMix64(SplitMix64(seed ^ 0x73687566666c6521ULL) + static_cast<uint64_t>(epoch)));
  // Fisher-Yates (Durstenfeld): for i = n..2, position i - 1 swaps with a uniform j in [0, i).
  for (size_t i = order.size(); i > 1; --i) {
    size_t j = static_cast<size_t>(BoundedDraw(gen, i));
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

}  // namespace medassist::datasets
