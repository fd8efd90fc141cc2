#include "apps/generation_session.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "apps/options.h"
#include "core/log.h"
#include "formats/hf_config.h"
#include "hub/snapshot.h"
#include "model/lora_adapter.h"
#include "model/weight_convert.h"
#include "tokenizer/streaming_decoder.h"

namespace medassist::apps {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void WriteOut(const std::string& text) {
  if (text.empty()) return;
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

std::optional<runtime::LoadedModel> LoadModelOrReport(const std::string& model_spec,
                                                      const std::string& tokenizer_path) {
  if (model_spec.empty()) {
    std::fprintf(stderr, "error: no model given (--model PATH or ORG/NAME)\n");
    return std::nullopt;
  }
  // A repo id that is not in the Hugging Face cache is downloaded first (not with HF_HUB_OFFLINE).
  Result<std::string> path = hub::EnsureSnapshot(model_spec, hub::HubConfigFromEnv());
  if (!path.ok()) {
    std::fprintf(stderr, "error: %s\n", path.status().ToString().c_str());
    return std::nullopt;
  }
  const Clock::time_point start = Clock::now();
  Result<runtime::LoadedModel> m = runtime::LoadModelWithTokenizer(*path, tokenizer_path);
  if (!m.ok()) {
    std::fprintf(stderr, "error: %s\n", m.status().ToString().c_str());
    return std::nullopt;
  }
  spdlog::info("loaded {} ({}) with tokenizer {} ({} tokens) in {:.2f} s", m->model.path(),
               formats::DescribeModelConfig(m->model.config()), m->tokenizer.source(),
               m->tokenizer.vocab_size(), SecondsSince(start));
  return std::move(m).value();
}

void AddComputeOptions(CLI::App& cmd, ComputeArgs& args) {
  AddDeclaredOption(cmd, "--threads", args.threads);
  AddDeclaredFlag(cmd, "--reference", args.reference);
  AddDtypeOption(cmd, args.dtype);
  AddLoraOption(cmd, args.lora);
}

void AddLoraOption(CLI::App& cmd, std::string& lora) { AddDeclaredOption(cmd, "--lora", lora); }

bool ApplyLoraOrReport(model::Model& m, const std::string& lora, int threads) {
  if (lora.empty()) return true;
  const Clock::time_point start = Clock::now();
  Result<model::LoraAdapter> adapter = model::ReadPeftAdapter(lora);
  ThreadPool pool(threads > 0 ? threads : DefaultThreadCount());
  Result<model::LoraApplied> applied =
      adapter.ok() ? model::ApplyLoraAdapter(m, *adapter, pool) : adapter.status();
  if (!applied.ok()) {
    std::fprintf(stderr, "error: --lora %s: %s\n", lora.c_str(),
                 applied.status().ToString().c_str());
    return false;
  }
  std::string modules;
  for (const std::string& name : applied->modules)
    modules.append(modules.empty() ? "" : ",").append(name);
  spdlog::info("--lora {}: merged {} matrices ({}), r {}, scale {:.4g}, in {:.2f} s", lora,
               applied->n_matrices, modules, applied->r, applied->scale, SecondsSince(start));
  return true;
}

bool PrepareWeightsOrReport(model::Model& m, const ComputeArgs& args) {
  return ApplyLoraOrReport(m, args.lora, args.threads) &&
         ConvertWeightsOrReport(m, args.dtype, args.threads);
}

void AddDtypeOption(CLI::App& cmd, std::string& dtype) {
  AddDeclaredOption(cmd, "--dtype", dtype)
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            Result<model::WeightMix> mix = model::ParseWeightMix(value);
            return mix.ok() ? "" : mix.status().message();
          },
          "DTYPE"));
}

bool ConvertWeightsOrReport(model::Model& m, const std::string& dtype, int threads) {
  Result<model::WeightMix> mix = model::ParseWeightMix(dtype);
  if (mix.ok() && *mix == model::WeightMix::kKeep) return true;
  const Clock::time_point start = Clock::now();
  ThreadPool pool(threads > 0 ? threads : DefaultThreadCount());
  Result<model::WeightConversion> c =
      mix.ok() ? model::ConvertWeights(m, *mix, pool) : mix.status();
  if (!c.ok()) {
    std::fprintf(stderr, "error: --dtype %s: %s\n", dtype.c_str(), c.status().ToString().c_str());
    return false;
  }
  spdlog::info("--dtype {}: converted {} matrices, {:.1f} MB -> {:.1f} MB, in {:.2f} s", dtype,
               c->n_converted, static_cast<double>(c->source_bytes) / 1e6,
               static_cast<double>(c->bytes) / 1e6, SecondsSince(start));
  return true;
}

Compute MakeCompute(const model::Model& model, const ComputeArgs& args) {
  Compute c;
  c.pool = std::make_unique<ThreadPool>(args.threads > 0 ? args.threads : DefaultThreadCount());
  c.forward = std::make_unique<model::Forward>(
      model, *c.pool,
      model::Forward::Options{.isa = kernels::BestIsa(), .reference = args.reference});
  spdlog::info("compute: {} on {} threads",
               args.reference ? "reference (scalar F32)" : kernels::IsaName(c.forward->isa()),
               c.pool->n_threads());
  return c;
}

std::optional<runtime::GreedyGenerator> CreateGeneratorOrReport(const runtime::LoadedModel& m,
                                                                int64_t context,
                                                                model::Forward* forward) {
  const int64_t capped = std::min(context, m.model.config().max_position_embeddings);
  Result<runtime::GreedyGenerator> gen = runtime::GreedyGenerator::Create(
      m.model, static_cast<int32_t>(std::max<int64_t>(capped, 0)), forward);
  if (!gen.ok()) {
    std::fprintf(stderr, "error: %s\n", gen.status().ToString().c_str());
    return std::nullopt;
  }
  return std::move(gen).value();
}

Result<StreamedReply> GenerateAndStream(runtime::GreedyGenerator& gen,
                                        const runtime::LoadedModel& m,
                                        std::span<const tokenizer::TokenId> prompt,
                                        const StreamSettings& settings) {
  // Control tokens are not shown; an EOS id ends generation before reaching the decoder.
  tokenizer::StreamingDecoder decoder(m.tokenizer, {.skip_special = true});
  if (settings.continues_prompt) {
    for (tokenizer::TokenId id : prompt) (void)decoder.Add(id);
  }
  StreamedReply reply;
  const Clock::time_point start = Clock::now();
  double first_token_s = 0;
  runtime::GenerateOptions options{.max_new_tokens = settings.max_new_tokens,
                                   .eos_ids = m.eos_ids,
                                   .cancel = settings.cancel,
                                   .on_token = [&](int32_t id) {
                                     if (first_token_s == 0) first_token_s = SecondsSince(start);
                                     std::string text = decoder.Add(id);
                                     WriteOut(text);
                                     reply.text += text;
                                     return true;
                                   }};
  ASSIGN_OR_RETURN(reply.result, gen.Generate(prompt, options));
  const std::string rest = decoder.Flush();
  reply.text += rest;
  WriteOut(rest + "\n");
  const double total_s = SecondsSince(start);
  const size_t n_generated = reply.result.ids.size();
  // Decode speed over the tokens after the first (which waited for the prefill).
  const double decode_s = total_s - first_token_s;
  const double tokens_per_s = n_generated > 1 && decode_s > 0 ? (n_generated - 1) / decode_s : 0;
  spdlog::info(
      "prompt {} tokens, generated {} tokens, {:.1f} tokens/s (first token after {:.3f} s), "
      "finish: {}",
      prompt.size(), n_generated, tokens_per_s, first_token_s,
      runtime::FinishReasonName(reply.result.finish));
  return reply;
}

}  // namespace medassist::apps
