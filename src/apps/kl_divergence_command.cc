#include "apps/kl_divergence_command.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "apps/generation_session.h"
#include "apps/kl_divergence.h"
#include "apps/options.h"
#include "core/file.h"
#include "core/log.h"
#include "formats/json_util.h"

namespace medassist::apps {
namespace {

struct KlArgs {
  std::string base, model, text, sft_jsonl, output, lora;
  int ctx = 0, chunks = 0, threads = 0;
};

Result<std::string> StreamText(const KlArgs& a) {
  if (a.text.empty() == a.sft_jsonl.empty()) {
    return InvalidArgument(
        "give the text to score as exactly one of --text FILE or --sft-jsonl FILE");
  }
  if (!a.sft_jsonl.empty()) return SftJsonlText(a.sft_jsonl);
  ASSIGN_OR_RETURN(std::string text, ReadFile(a.text));
  if (text.empty()) return InvalidArgument(a.text + ": the text is empty");
  return text;
}

// Both models must read and write the same token ids: equal logit widths and equal tokenizers.
Status CheckSameVocabulary(const runtime::LoadedModel& base, const runtime::LoadedModel& m) {
  const tokenizer::Tokenizer& a = base.tokenizer;
  const tokenizer::Tokenizer& b = m.tokenizer;
  const std::string both = base.model.path() + " and " + m.model.path();
  if (base.model.config().vocab_size != m.model.config().vocab_size) {
    return InvalidArgument(both + " have different vocabularies (" +
                           std::to_string(base.model.config().vocab_size) + " vs " +
                           std::to_string(m.model.config().vocab_size) +
                           " logits per token): compare a model with its own original");
  }
  bool same = a.vocab_size() == b.vocab_size() && a.type() == b.type() &&
              a.bos_id() == b.bos_id() && a.add_bos() == b.add_bos();
  for (int32_t id = 0; same && id < a.vocab_size(); ++id) {
    same = a.TokenPiece(id) == b.TokenPiece(id);
  }
  if (!same) {
    return InvalidArgument(both + " have different tokenizers (" + a.source() + ", " + b.source() +
                           "): compare a model with its own original");
  }
  return Status::Ok();
}

void LogChunk(int32_t chunk, const KlAccumulator& so_far, double seconds) {
  const KlSummary s = so_far.Summarize();
  spdlog::info(
      "chunk {}: {:.1f} s, PPL(base) {:.4f}, PPL(model) {:.4f}, KLD {:.6f} ± {:.6f}, same top "
      "{:.3f} %",
      chunk + 1, seconds, s.ppl_base.mean, s.ppl_model.mean, s.kld.mean, s.kld.error,
      100.0 * s.same_top.mean);
}

void Print(const KlArgs& a, const KlChunking& plan, const KlSummary& s) {
  if (a.output == "json") {
    const nlohmann::json out = {{"base", a.base},
                                {"model", a.model},
                                {"ctx", plan.ctx},
                                {"chunks", plan.n_chunks},
                                {"tokens_scored", s.n_tokens},
                                {"ppl_base", s.ppl_base.mean},
                                {"ppl_base_error", s.ppl_base.error},
                                {"ppl_model", s.ppl_model.mean},
                                {"ppl_model_error", s.ppl_model.error},
                                {"ln_ppl_ratio", s.ln_ppl_ratio.mean},
                                {"ln_ppl_ratio_error", s.ln_ppl_ratio.error},
                                {"kld_mean", s.kld.mean},
                                {"kld_mean_error", s.kld.error},
                                {"kld_median", s.kld_median},
                                {"kld_p99", s.kld_p99},
                                {"kld_max", s.kld_max},
                                {"same_top_p", s.same_top.mean},
                                {"same_top_p_error", s.same_top.error}};
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf(
      "| base | model | ctx | chunks | tokens | PPL(base) | PPL(model) | mean KLD | median KLD | "
      "99%% KLD | same top-1 |\n");
  std::printf("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  std::printf(
      "| %s | %s | %d | %d | %lld | %.4f ± %.4f | %.4f ± %.4f | %.6f ± %.6f | %.6f | %.6f | "
      "%.3f ± %.3f %% |\n",
      a.base.c_str(), a.model.c_str(), plan.ctx, plan.n_chunks, static_cast<long long>(s.n_tokens),
      s.ppl_base.mean, s.ppl_base.error, s.ppl_model.mean, s.ppl_model.error, s.kld.mean,
      s.kld.error, s.kld_median, s.kld_p99, 100.0 * s.same_top.mean, 100.0 * s.same_top.error);
}

int Fail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
  return 1;
}

int RunKlDivergence(const KlArgs& a) {
  if (a.output != "md" && a.output != "json") {
    return Fail(InvalidArgument("--output must be md or json, not '" + a.output + "'"));
  }
  Result<std::string> text = StreamText(a);
  if (!text.ok()) return Fail(text.status());
  std::optional<runtime::LoadedModel> base = LoadModelOrReport(a.base, "");
  if (!base) return 1;
  std::optional<runtime::LoadedModel> m = LoadModelOrReport(a.model, "");
  if (!m || !ApplyLoraOrReport(m->model, a.lora, a.threads)) return 1;
  if (Status s = CheckSameVocabulary(*base, *m); !s.ok()) return Fail(s);

  const tokenizer::Tokenizer& tok = base->tokenizer;
  const std::vector<int32_t> tokens =
      tok.Encode(*text, {.parse_special = false, .add_bos = tok.add_bos()});
  const int64_t max_context = std::min(base->model.config().max_position_embeddings,
                                       m->model.config().max_position_embeddings);
  Result<KlChunking> plan =
      PlanKlChunks(static_cast<int64_t>(tokens.size()), a.ctx, a.chunks, max_context);
  if (!plan.ok()) return Fail(plan.status());
  spdlog::info("{} tokens; scoring {} chunks of {} tokens: {} tokens", tokens.size(),
               plan->n_chunks, plan->ctx, plan->n_scored());

  ThreadPool pool(a.threads > 0 ? a.threads : DefaultThreadCount());
  model::Forward base_forward(base->model, pool);
  model::Forward model_forward(m->model, pool);
  const std::optional<int32_t> bos = tok.add_bos() ? tok.bos_id() : std::nullopt;
  auto chunk_start = std::chrono::steady_clock::now();
  Result<KlSummary> summary = EvaluateKl(
      {base->model, base_forward}, {m->model, model_forward}, pool, tokens, bos, *plan,
      [&](int32_t chunk, const KlAccumulator& so_far) {
        const auto now = std::chrono::steady_clock::now();
        LogChunk(chunk, so_far, std::chrono::duration<double>(now - chunk_start).count());
        chunk_start = now;
      });
  if (!summary.ok()) return Fail(summary.status());
  Print(a, *plan, *summary);
  return 0;
}

}  // namespace

Result<std::string> SftJsonlText(const std::string& path) {
  ASSIGN_OR_RETURN(std::string file, ReadFile(path));
  std::string text;
  size_t line_no = 0;
  for (size_t pos = 0; pos < file.size();) {
    size_t eol = file.find('\n', pos);
    if (eol == std::string::npos) eol = file.size();
    const std::string_view line(file.data() + pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    ASSIGN_OR_RETURN(nlohmann::json row, formats::ParseJson(line, where));
    if (!row.is_object()) return InvalidArgument(where + ": a row must be a JSON object");
    ASSIGN_OR_RETURN(std::string question, formats::GetString(row, "Question", where));
    ASSIGN_OR_RETURN(std::string cot, formats::GetString(row, "Complex_CoT", where));
    ASSIGN_OR_RETURN(std::string response, formats::GetString(row, "Response", where));
    if (!text.empty()) text += "\n\n";
    text += question + "\n\n" + cot + "\n\n" + response;
  }
  if (text.empty()) return InvalidArgument(path + ": no rows (Question, Complex_CoT, Response)");
  return text;
}

void AddKlDivergenceCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<KlArgs>();
  CLI::App* cmd = app.add_subcommand(
      "kl-divergence",
      "Teacher-forced KL divergence and top-1 agreement of a model against a base model, in the "
      "manner of llama-perplexity --kl-divergence");
  AddDeclaredOption(*cmd, "--base", args->base)->required();
  AddDeclaredOption(*cmd, "--model", args->model)->required();
  AddDeclaredOption(*cmd, "--text", args->text);
  AddDeclaredOption(*cmd, "--sft-jsonl", args->sft_jsonl);
  AddDeclaredOption(*cmd, "--ctx", args->ctx);
  AddDeclaredOption(*cmd, "--chunks", args->chunks);
  AddDeclaredOption(*cmd, "--threads", args->threads);
  AddLoraOption(*cmd, args->lora);
  AddDeclaredOption(*cmd, "--output", args->output);
  cmd->callback([args, exit_code] { *exit_code = RunKlDivergence(*args); });
}

}  // namespace medassist::apps
