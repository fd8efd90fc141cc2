#include "train/trainer.h"

#include <ATen/autocast_mode.h>
#include <torch/cuda.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/thread_pool.h"
#include "runtime/loaded_model.h"
#include "train/batch_plan.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/lora_export.h"
#include "train/metrics_log.h"
#include "train/sft_loss.h"
#include "train/system_metrics.h"
#include "train/torch_qwen2.h"

namespace medassist::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// BF16 autocast on CPU for the scope (torch.autocast("cpu", dtype=torch.bfloat16)). Scoped to one
// forward and backward, as in Python: leaving clears autocast's cache of BF16 copies of the LoRA
// weights, which would otherwise keep serving the values from before the optimizer step.
class AutocastScope {
 public:
  AutocastScope(bool on, torch::Device device) : on_(on), cuda_(device.is_cuda()) {
    if (!on_) return;
    if (cuda_) {
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(true);
    } else {
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(true);
    }
  }
  ~AutocastScope() {
    if (!on_) return;
    if (cuda_) {
      at::autocast::set_enabled(false);
    } else {
      at::autocast::set_cpu_enabled(false);
    }
    at::autocast::clear_cache();
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool on_;
  bool cuda_;
};

// --device as a torch::Device; CUDA only when this LibTorch has it. "cuda" with several processes
// takes GPU rank % GPUs (one per local process, as torchrun's LOCAL_RANK).
Result<torch::Device> ChooseDevice(const TrainOptions& o) {
  if (o.device == "cpu") return torch::Device(torch::kCPU);
  if (!torch::cuda::is_available()) {
    return Unavailable(fmt::format(
        "--device {}: this LibTorch has no CUDA (Debian's libtorch-dev is CPU-only), or no GPU is "
        "visible; build medassist-train against a CUDA build of LibTorch, or train with --device "
        "cpu",
        o.device));
  }
  const int n = static_cast<int>(torch::cuda::device_count());
  const int index = o.device == "cuda" ? o.dist.rank % n : std::atoi(o.device.c_str() + 5);
  if (index < 0 || index >= n) {
    return InvalidArgument(fmt::format("--device {}: {} GPUs visible", o.device, n));
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

// Everything the loop works with, built once.
struct Run {
  explicit Run(const TrainOptions& options) : o(options) {}
  const TrainOptions& o;
  std::unique_ptr<DataParallel> dp;
  datasets::SftExampleSet data;
  std::optional<TorchQwen2> net;
  std::vector<torch::Tensor> params;
  std::unique_ptr<torch::optim::AdamW> opt;
  std::optional<BatchPlan> plan;
  LrPlan lr;
  int64_t pad_id = 0;
  TrainerState state;
  std::optional<MetricsLog> log;
  SystemSampler system;
};

// The sums of one logging window (Hugging Face logs the mean over the steps since the last log).
struct Window {
  double loss = 0, accuracy = 0, entropy = 0, grad_norm = 0;
  int64_t n_steps = 0;
  int64_t n_input_tokens = 0;
  Clock::time_point started = Clock::now();
};

Status WriteRunConfig(const Run& r, const std::string& path) {
  const TrainOptions& o = r.o;
  nlohmann::json j = {
      {"model", o.model},
      {"data", o.data},
      {"lora_r", o.lora.r},
      {"lora_alpha", o.lora.alpha},
      {"lora_dropout", o.lora.dropout},
      {"lora_targets", o.lora.targets},
      {"epochs", o.epochs},
      {"max_steps", o.max_steps},
      {"per_device_train_batch_size", o.per_device_batch},
      {"gradient_accumulation_steps", o.grad_accum},
      {"world_size", o.dist.world_size},
      {"global_batch", r.plan->global_batch()},
      {"total_steps", r.plan->n_steps()},
      {"learning_rate", o.learning_rate},
      {"lr_scheduler_type", std::string(LrScheduleName(o.schedule))},
      {"warmup_ratio", o.warmup_ratio},
      {"warmup_steps", r.lr.n_warmup},
      {"weight_decay", o.weight_decay},
      {"max_grad_norm", o.max_grad_norm},
      {"bf16", o.bf16},
      {"seed", o.seed},
      {"reasoning_share", o.mix.reasoning_share},
      {"max_length", o.mix.max_length},
      {"train_examples", r.data.train.size()},
      {"eval_examples", r.data.eval.size()},
      {"train_tokens", r.data.stats.n_tokens},
      {"threads", torch::get_num_threads()},
  };
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  return out ? Status::Ok() : IoError(fmt::format("cannot write {}", path));
}

Status Setup(Run& r) {
  const TrainOptions& o = r.o;
  ASSIGN_OR_RETURN(torch::Device device, ChooseDevice(o));
  ASSIGN_OR_RETURN(r.dp, DataParallel::Create(o.dist));
  const int threads =
      o.threads > 0 ? o.threads : std::max(1, DefaultThreadCount() / o.dist.world_size);
  torch::set_num_threads(threads);
  ASSIGN_OR_RETURN(runtime::LoadedModel loaded,
                   runtime::LoadModelWithTokenizer(o.model, o.tokenizer));
  ASSIGN_OR_RETURN(tokenizer::ChatTemplate chat,
                   tokenizer::ChatTemplate::ForTokenizer(loaded.tokenizer));
  ASSIGN_OR_RETURN(r.data,
                   datasets::BuildSftExamples(o.data, o.read, o.mix, loaded.tokenizer, chat));
  if (r.data.train.empty()) {
    return InvalidArgument(fmt::format("{}: no training examples left (rows read {}, dropped {})",
                                       o.data, r.data.stats.rows_read, r.data.stats.dropped));
  }
  r.pad_id = loaded.tokenizer.pad_id().value_or(loaded.eos_ids.empty() ? 0 : loaded.eos_ids[0]);
  ASSIGN_OR_RETURN(TorchQwen2 net,
                   TorchQwen2::FromModel(std::move(loaded.model),
                                         o.bf16 ? torch::kBFloat16 : torch::kFloat32, device));
  r.net.emplace(std::move(net));
  r.net->AddLora(o.lora, o.seed);
  r.params = r.net->LoraParameters();
  r.opt =
      std::make_unique<torch::optim::AdamW>(r.params, torch::optim::AdamWOptions(o.learning_rate)
                                                          .betas({o.adam_beta1, o.adam_beta2})
                                                          .eps(o.adam_epsilon)
                                                          .weight_decay(o.weight_decay));
  r.plan.emplace(BatchPlanOptions{.n_examples = std::ssize(r.data.train),
                                  .per_device_batch = o.per_device_batch,
                                  .grad_accum = o.grad_accum,
                                  .world_size = o.dist.world_size,
                                  .n_epochs = o.epochs,
                                  .max_steps = o.max_steps,
                                  .seed = o.seed});
  r.lr = {o.schedule, o.learning_rate, r.plan->n_steps(),
          WarmupSteps(o.warmup_ratio, r.plan->n_steps())};
  r.state.seed = o.seed;
  r.state.global_batch = r.plan->global_batch();
  r.state.n_train_examples = std::ssize(r.data.train);
  r.state.best_eval_loss = std::numeric_limits<double>::infinity();
  return Status::Ok();
}

Status Resume(Run& r) {
  ASSIGN_OR_RETURN(std::string dir, ResolveResume(r.o.output_dir, r.o.resume));
  ASSIGN_OR_RETURN(TrainerState s, LoadCheckpoint(dir, *r.net, *r.opt));
  if (s.seed != r.state.seed || s.global_batch != r.state.global_batch ||
      s.n_train_examples != r.state.n_train_examples) {
    return InvalidArgument(fmt::format(
        "{}: the checkpoint was made with seed {}, global batch {}, {} examples; this run has {}, "
        "{}, {}: resume with the same data and settings",
        dir, s.seed, s.global_batch, s.n_train_examples, r.state.seed, r.state.global_batch,
        r.state.n_train_examples));
  }
  r.state = s;
  spdlog::info("resumed from {} at step {}", dir, s.global_step);
  return Status::Ok();
}

// One optimizer step; returns the step's token statistics summed over ranks.
Result<TokenStats> TrainStep(Run& r, int64_t step, double* grad_norm, int64_t* n_input_tokens) {
  const std::vector<int64_t> examples = r.plan->StepExamples(step);
  const double n_targets = static_cast<double>(CountTargets(r.data.train, examples));
  for (const torch::Tensor& p : r.params) {
    if (p.grad().defined()) p.mutable_grad().zero_();
  }
  TokenStats stats;
  int64_t inputs = 0;
  for (int64_t micro = 0; micro < r.o.grad_accum; ++micro) {
    std::span<const int64_t> mine = r.plan->MicroBatch(examples, r.dp->rank(), micro);
    if (mine.empty()) continue;
    PackedBatch batch = PackBatch(r.data.train, mine, r.pad_id);
    AutocastScope autocast(r.o.bf16, r.net->device());
    LossOutput out = SftLoss(*r.net, batch, r.o.seed, step, r.o.lora.dropout > 0);
    if (out.loss_sum.defined()) (out.loss_sum / std::max(1.0, n_targets)).backward();
    stats.Add(out.stats);
    for (int64_t id : mine) inputs += std::ssize(r.data.train[static_cast<size_t>(id)].ids);
  }
  std::vector<torch::Tensor> reduce;
  for (const torch::Tensor& p : r.params) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    reduce.push_back(p.grad());
  }
  torch::Tensor sums = torch::tensor({stats.loss_sum, stats.correct, stats.entropy_sum,
                                      stats.n_tokens, static_cast<double>(inputs)},
                                     torch::kFloat64);
  reduce.push_back(sums);
  RETURN_IF_ERROR(r.dp->AllReduceSum(reduce));
  auto s = sums.accessor<double, 1>();
  stats = {s[0], s[1], s[2], s[3]};
  *n_input_tokens = static_cast<int64_t>(s[4]);
  *grad_norm =
      r.o.max_grad_norm > 0
          ? torch::nn::utils::clip_grad_norm_(r.params, r.o.max_grad_norm)
          : torch::nn::utils::clip_grad_norm_(r.params, std::numeric_limits<double>::infinity());
  const double lr = LearningRate(r.lr, step);
  for (auto& group : r.opt->param_groups()) group.options().set_lr(lr);
  r.opt->step();
  return stats;
}

Result<MetricValues> Evaluate(Run& r) {
  torch::NoGradGuard no_grad;
  const Clock::time_point start = Clock::now();
  const int64_t n = std::ssize(r.data.eval), bs = r.o.per_device_eval_batch;
  const int64_t n_batches = (n + bs - 1) / bs;
  TokenStats stats;
  for (int64_t b = r.dp->rank(); b < n_batches; b += r.dp->world_size()) {
    std::vector<int64_t> ids;
    for (int64_t i = b * bs; i < std::min(n, (b + 1) * bs); ++i) ids.push_back(i);
    AutocastScope autocast(r.o.bf16, r.net->device());
    stats.Add(SftLoss(*r.net, PackBatch(r.data.eval, ids, r.pad_id), r.o.seed, 0, false).stats);
  }
  torch::Tensor sums = torch::tensor(
      {stats.loss_sum, stats.correct, stats.entropy_sum, stats.n_tokens}, torch::kFloat64);
  RETURN_IF_ERROR(r.dp->AllReduceSum({sums}));
  auto s = sums.accessor<double, 1>();
  const double runtime = Seconds(start), tokens = std::max(1.0, s[3]);
  return MetricValues{
      {std::string(kMetricEvalLoss), s[0] / tokens},
      {std::string(kMetricEvalMeanTokenAccuracy), s[1] / tokens},
      {std::string(kMetricEvalEntropy), s[2] / tokens},
      {std::string(kMetricEvalRuntime), runtime},
      {std::string(kMetricEvalSamplesPerSecond), static_cast<double>(n) / runtime},
      {std::string(kMetricEvalStepsPerSecond), static_cast<double>(n_batches) / runtime}};
}

void ShowProgress(const Run& r, int64_t step, double loss, double lr, double tokens_per_s,
                  Clock::time_point started, int64_t first_step) {
  if (!r.o.progress || !r.dp->is_main() || !isatty(STDERR_FILENO)) return;
  const int64_t done = step + 1 - first_step, left = r.plan->n_steps() - step - 1;
  const double eta =
      done > 0 ? Seconds(started) / static_cast<double>(done) * static_cast<double>(left) : 0;
  std::fprintf(stderr, "\r\033[Kstep %lld/%lld  loss %.4f  lr %.3g  %.0f tok/s  ETA %dm%02ds",
               static_cast<long long>(step + 1), static_cast<long long>(r.plan->n_steps()), loss,
               lr, tokens_per_s, static_cast<int>(eta) / 60, static_cast<int>(eta) % 60);
  if (left == 0) std::fputc('\n', stderr);
}

Status LogWindow(Run& r, int64_t step, Window& w, int64_t n_tokens_total) {
  const double n = static_cast<double>(std::max<int64_t>(1, w.n_steps));
  const double tokens_per_s =
      static_cast<double>(w.n_input_tokens) / std::max(1e-9, Seconds(w.started));
  MetricValues values = {{std::string(kMetricLoss), w.loss / n},
                         {std::string(kMetricGradNorm), w.grad_norm / n},
                         {std::string(kMetricLearningRate), LearningRate(r.lr, step)},
                         {std::string(kMetricEntropy), w.entropy / n},
                         {std::string(kMetricNumTokens), static_cast<double>(n_tokens_total)},
                         {std::string(kMetricMeanTokenAccuracy), w.accuracy / n},
                         {std::string(kMetricEpoch), r.plan->EpochAfter(step)},
                         {std::string(kMetricTrainTokensPerSecond), tokens_per_s}};
  for (auto& v : r.system.Sample()) values.push_back(std::move(v));
  if (!isatty(STDERR_FILENO) || !r.o.progress) {
    spdlog::info("step {}/{} loss {:.4f} accuracy {:.3f} lr {:.3g} grad_norm {:.3f} {:.0f} tok/s",
                 step + 1, r.plan->n_steps(), w.loss / n, w.accuracy / n, LearningRate(r.lr, step),
                 w.grad_norm / n, tokens_per_s);
  }
  w = Window{};
  return r.log->Log(step + 1, values);
}

Status EvaluateAndLog(Run& r, int64_t step, double* eval_loss) {
  ASSIGN_OR_RETURN(MetricValues values, Evaluate(r));
  *eval_loss = values[0].second;
  spdlog::info("step {} eval_loss {:.4f} eval_mean_token_accuracy {:.3f} ({:.1f} s)", step + 1,
               values[0].second, values[1].second, values[3].second);
  if (r.dp->is_main()) RETURN_IF_ERROR(r.log->Log(step + 1, values));
  return Status::Ok();
}

Status MaybeSave(Run& r, int64_t step, bool evaluated, double eval_loss) {
  const bool last = step + 1 == r.plan->n_steps();
  const bool due = r.o.save_steps > 0 && (step + 1) % r.o.save_steps == 0;
  if (!due && !last) return Status::Ok();
  const std::string dir = CheckpointDir(r.o.output_dir, step + 1);
  if (evaluated && eval_loss < r.state.best_eval_loss) {
    r.state.best_eval_loss = eval_loss;
    r.state.best_checkpoint = dir;
  }
  if (r.dp->is_main()) {
    RETURN_IF_ERROR(SaveCheckpoint(dir, *r.net, *r.opt, r.state, r.o.model));
    RotateCheckpoints(r.o.output_dir, r.o.save_total_limit, r.state.best_checkpoint);
  }
  return r.dp->Barrier();
}

Result<TrainSummary> Loop(Run& r) {
  TrainSummary summary;
  summary.n_train_examples = std::ssize(r.data.train);
  summary.n_eval_examples = std::ssize(r.data.eval);
  summary.final_eval_loss = std::numeric_limits<double>::quiet_NaN();
  const Clock::time_point started = Clock::now();
  const int64_t first_step = r.state.global_step;
  int64_t n_tokens_total = 0;
  Window window;
  for (int64_t step = first_step; step < r.plan->n_steps(); ++step) {
    double grad_norm = 0;
    int64_t inputs = 0;
    ASSIGN_OR_RETURN(TokenStats s, TrainStep(r, step, &grad_norm, &inputs));
    const double tokens = std::max(1.0, s.n_tokens);
    summary.step_losses.push_back(s.loss_sum / tokens);
    n_tokens_total += inputs;
    window.loss += s.loss_sum / tokens, window.accuracy += s.correct / tokens;
    window.entropy += s.entropy_sum / tokens, window.grad_norm += grad_norm;
    window.n_steps += 1, window.n_input_tokens += inputs;
    r.state.global_step = step + 1;
    r.state.epoch = r.plan->EpochAfter(step);
    const bool last = step + 1 == r.plan->n_steps();
    ShowProgress(r, step, s.loss_sum / tokens, LearningRate(r.lr, step),
                 static_cast<double>(n_tokens_total) / Seconds(started), started, first_step);
    if (r.dp->is_main() && ((step + 1) % r.o.logging_steps == 0 || last)) {
      RETURN_IF_ERROR(LogWindow(r, step, window, n_tokens_total));
    }
    const bool eval_due =
        !r.data.eval.empty() && ((r.o.eval_steps > 0 && (step + 1) % r.o.eval_steps == 0) || last);
    double eval_loss = 0;
    if (eval_due) {
      RETURN_IF_ERROR(EvaluateAndLog(r, step, &eval_loss));
      summary.final_eval_loss = eval_loss;
    }
    RETURN_IF_ERROR(MaybeSave(r, step, eval_due, eval_loss));
  }
  summary.n_steps = r.plan->n_steps() - first_step;
  summary.runtime_seconds = Seconds(started);
  summary.tokens_per_second =
      static_cast<double>(n_tokens_total) / std::max(1e-9, summary.runtime_seconds);
  return summary;
}

}  // namespace

Result<TrainSummary> RunTraining(const TrainOptions& options) {
  RETURN_IF_ERROR(ValidateTrainOptions(options));
  try {
    Run r(options);
    RETURN_IF_ERROR(Setup(r));
    std::error_code ec;
    fs::create_directories(options.output_dir, ec);
    if (ec) return IoError(fmt::format("--output-dir {}: {}", options.output_dir, ec.message()));
    if (!options.resume.empty()) RETURN_IF_ERROR(Resume(r));
    if (r.dp->is_main()) {
      ASSIGN_OR_RETURN(MetricsLog log,
                       MetricsLog::Open(options.output_dir, {.truncate = options.resume.empty()}));
      r.log.emplace(std::move(log));
      RETURN_IF_ERROR(
          WriteRunConfig(r, (fs::path(options.output_dir) / "run_config.json").string()));
    }
    spdlog::info(
        "training: {} examples ({} eval), {} steps of {} examples, {} LoRA parameters, {} "
        "threads x {} processes",
        r.data.train.size(), r.data.eval.size(), r.plan->n_steps(), r.plan->global_batch(),
        [&] {
          int64_t n = 0;
          for (const auto& p : r.params) n += p.numel();
          return n;
        }(),
        torch::get_num_threads(), options.dist.world_size);
    ASSIGN_OR_RETURN(TrainSummary summary, Loop(r));
    summary.adapter_dir = (fs::path(options.output_dir) / "adapter").string();
    if (r.dp->is_main()) {
      RETURN_IF_ERROR(
          model::WritePeftAdapter(summary.adapter_dir, ExportLora(*r.net, options.model)));
      RETURN_IF_ERROR(r.log->Close());
    }
    RETURN_IF_ERROR(r.dp->Barrier());
    return summary;
  } catch (const std::exception& e) {
    return Internal(fmt::format("training stopped: {}", e.what()));
  }
}

}  // namespace medassist::train
