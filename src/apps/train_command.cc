#include "apps/train_command.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "apps/options.h"
#include "train/train_options.h"
#ifdef MEDASSIST_HAVE_TORCH
#include "train/trainer.h"
#endif

namespace medassist::apps {
namespace {

struct TrainArgs {
  train::TrainOptions o;
  std::string bad_rows, overlong, targets, schedule, bf16;
  int nproc = 1;
  int64_t seed = 42;
  bool no_progress = false;
  std::vector<std::string> argv;  // for the --nproc launcher
};

// "\n" in a template given on the command line is a newline.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == 'n') {
      out += '\n';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

Status Finish(TrainArgs& a) {
  train::TrainOptions& o = a.o;
  if (a.bad_rows != "skip" && a.bad_rows != "refuse") {
    return InvalidArgument("--bad-rows must be skip or refuse");
  }
  o.read.on_malformed =
      a.bad_rows == "skip" ? datasets::MalformedRows::kSkip : datasets::MalformedRows::kRefuse;
  if (a.overlong != "truncate" && a.overlong != "drop") {
    return InvalidArgument("--overlong must be truncate or drop");
  }
  o.mix.overlong =
      a.overlong == "truncate" ? datasets::Overlong::kTruncate : datasets::Overlong::kDrop;
  o.mix.reasoning_template = Unescape(o.mix.reasoning_template);
  o.mix.answer_template = Unescape(o.mix.answer_template);
  std::optional<train::LrSchedule> schedule = train::ParseLrSchedule(a.schedule);
  if (!schedule) return InvalidArgument("--lr-scheduler must be cosine, linear or constant");
  o.schedule = *schedule;
  if (a.bf16 != "on" && a.bf16 != "off") return InvalidArgument("--bf16 must be on or off");
  o.bf16 = a.bf16 == "on";
  o.lora.targets.clear();
  for (size_t start = 0; start <= a.targets.size();) {
    size_t comma = a.targets.find(',', start);
    if (comma == std::string::npos) comma = a.targets.size();
    if (comma > start) o.lora.targets.push_back(a.targets.substr(start, comma - start));
    start = comma + 1;
  }
  if (a.seed < 0) return InvalidArgument("--seed must be >= 0");
  o.seed = o.mix.seed = static_cast<uint64_t>(a.seed);
  o.progress = !a.no_progress;
  // A process started by the launcher (or by hand, torchrun style) learns its place from the env.
  if (const char* world = std::getenv("WORLD_SIZE")) o.dist.world_size = std::atoi(world);
  if (const char* rank = std::getenv("RANK")) o.dist.rank = std::atoi(rank);
  if (const char* addr = std::getenv("MASTER_ADDR")) o.dist.master_addr = addr;
  if (const char* port = std::getenv("MASTER_PORT")) o.dist.master_port = std::atoi(port);
  return train::ValidateTrainOptions(o);
}

// Starts nproc copies of this program with RANK / WORLD_SIZE and a fresh rendezvous file; when one
// fails, the others are stopped. Returns the exit code.
int Launch(const TrainArgs& a) {
  std::error_code ec;
  std::filesystem::create_directories(a.o.output_dir, ec);
  const std::string init_file =
      (std::filesystem::absolute(a.o.output_dir) / fmt::format(".dist-init-{}", getpid())).string();
  std::filesystem::remove(init_file, ec);
  std::vector<pid_t> children;
  for (int rank = 0; rank < a.nproc; ++rank) {
    const pid_t pid = fork();
    if (pid == 0) {
      setenv("RANK", std::to_string(rank).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(a.nproc).c_str(), 1);
      setenv("MEDASSIST_DIST_INIT_FILE", init_file.c_str(), 1);
      std::vector<char*> argv;
      for (const std::string& s : a.argv) argv.push_back(const_cast<char*>(s.c_str()));
      argv.push_back(nullptr);
      execv("/proc/self/exe", argv.data());
      std::perror("execv");
      _exit(127);
    }
    if (pid < 0) {
      std::perror("fork");
      for (pid_t c : children) kill(c, SIGTERM);
      return 1;
    }
    children.push_back(pid);
  }
  int exit_code = 0;
  for (size_t left = children.size(); left > 0; --left) {
    int status = 0;
    const pid_t done = wait(&status);
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok && exit_code == 0) {
      std::fprintf(stderr, "error: training process %d failed; stopping the others\n", done);
      exit_code = 1;
      for (pid_t c : children) {
        if (c != done) kill(c, SIGTERM);
      }
    }
  }
  std::filesystem::remove(init_file, ec);
  return exit_code;
}

#ifndef MEDASSIST_HAVE_TORCH
// medassist without LibTorch: run medassist-train, installed beside it, with the same arguments.
int HandOver(const TrainArgs& a) {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::string trainer = (self.parent_path() / "medassist-train").string();
  if (ec || access(trainer.c_str(), X_OK) != 0) {
    std::fprintf(stderr,
                 "error: training needs medassist-train beside %s, which is built with LibTorch "
                 "(the release preset: scripts/install-deps.sh installs libtorch-dev, then "
                 "scripts/build.sh release)\n",
                 self.c_str());
    return 1;
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(trainer.c_str()));
  for (size_t i = 1; i < a.argv.size(); ++i) argv.push_back(const_cast<char*>(a.argv[i].c_str()));
  argv.push_back(nullptr);
  execv(trainer.c_str(), argv.data());
  std::fprintf(stderr, "error: cannot run %s: %s\n", trainer.c_str(), std::strerror(errno));
  return 1;
}
#endif

int RunTrain(TrainArgs& a) {
  if (Status s = Finish(a); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 1;
  }
#ifdef MEDASSIST_HAVE_TORCH
  if (a.nproc > 1 && std::getenv("WORLD_SIZE") == nullptr) return Launch(a);
  Result<train::TrainSummary> r = train::RunTraining(a.o);
  if (!r.ok()) {
    std::fprintf(stderr, "error: %s\n", r.status().ToString().c_str());
    return 1;
  }
  if (a.o.dist.rank == 0) {
    std::fprintf(stderr, "trained %lld steps in %.1f s (%.0f tokens/s); adapter: %s\n",
                 static_cast<long long>(r->n_steps), r->runtime_seconds, r->tokens_per_second,
                 r->adapter_dir.c_str());
  }
  return 0;
#else
  (void)Launch;
  return HandOver(a);
#endif
}

}  // namespace

void AddTrainCommand(CLI::App& app, std::vector<std::string> argv, int* exit_code) {
  auto a = std::make_shared<TrainArgs>();
  a->argv = std::move(argv);
  CLI::App* cmd = app.add_subcommand(
      "train",
      "LoRA fine-tuning on medical-o1 SFT rows, with metrics, checkpoints and a PEFT "
      "adapter (docs/training.md)");
  // A flag given twice: the last one wins (a script's defaults, then the user's overrides).
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  train::TrainOptions& o = a->o;
  AddDeclaredOption(*cmd, "--model", o.model)->required();
  AddDeclaredOption(*cmd, "--tokenizer", o.tokenizer);
  AddDeclaredOption(*cmd, "--data", o.data)->required();
  AddDeclaredOption(*cmd, "--output-dir", o.output_dir)->required();
  AddDeclaredOption(*cmd, "--question-field", o.read.fields.question);
  AddDeclaredOption(*cmd, "--cot-field", o.read.fields.reasoning);
  AddDeclaredOption(*cmd, "--response-field", o.read.fields.response);
  AddDeclaredOption(*cmd, "--bad-rows", a->bad_rows);
  AddDeclaredOption(*cmd, "--reasoning-share", o.mix.reasoning_share);
  AddDeclaredOption(*cmd, "--reasoning-template", o.mix.reasoning_template);
  AddDeclaredOption(*cmd, "--answer-template", o.mix.answer_template);
  AddDeclaredOption(*cmd, "--train-system-prompt", o.mix.system_prompt);
  AddDeclaredOption(*cmd, "--max-length", o.mix.max_length);
  AddDeclaredOption(*cmd, "--overlong", a->overlong);
  AddDeclaredOption(*cmd, "--eval-share", o.mix.eval_share);
  AddDeclaredOption(*cmd, "--eval-count", o.mix.eval_count);
  AddDeclaredOption(*cmd, "--lora-r", o.lora.r);
  AddDeclaredOption(*cmd, "--lora-alpha", o.lora.alpha);
  AddDeclaredOption(*cmd, "--lora-dropout", o.lora.dropout);
  AddDeclaredOption(*cmd, "--lora-targets", a->targets);
  AddDeclaredFlag(*cmd, "--rslora", o.lora.rslora);
  AddDeclaredOption(*cmd, "--epochs", o.epochs);
  AddDeclaredOption(*cmd, "--max-steps", o.max_steps);
  AddDeclaredOption(*cmd, "--batch-size", o.per_device_batch);
  AddDeclaredOption(*cmd, "--grad-accum", o.grad_accum);
  AddDeclaredOption(*cmd, "--learning-rate", o.learning_rate);
  AddDeclaredOption(*cmd, "--lr-scheduler", a->schedule);
  AddDeclaredOption(*cmd, "--warmup-ratio", o.warmup_ratio);
  AddDeclaredOption(*cmd, "--weight-decay", o.weight_decay);
  AddDeclaredOption(*cmd, "--max-grad-norm", o.max_grad_norm);
  AddDeclaredOption(*cmd, "--bf16", a->bf16);
  AddDeclaredOption(*cmd, "--seed", a->seed);
  AddDeclaredOption(*cmd, "--logging-steps", o.logging_steps);
  AddDeclaredOption(*cmd, "--eval-steps", o.eval_steps);
  AddDeclaredOption(*cmd, "--eval-batch-size", o.per_device_eval_batch);
  AddDeclaredOption(*cmd, "--save-steps", o.save_steps);
  AddDeclaredOption(*cmd, "--save-total-limit", o.save_total_limit);
  AddDeclaredOption(*cmd, "--resume", o.resume);
  AddDeclaredOption(*cmd, "--threads", o.threads);
  AddDeclaredOption(*cmd, "--device", o.device);
  AddDeclaredOption(*cmd, "--nproc", a->nproc);
  AddDeclaredOption(*cmd, "--dist-init-file", o.dist.init_file);
  AddDeclaredFlag(*cmd, "--no-progress", a->no_progress);
  cmd->callback([a, exit_code] { *exit_code = RunTrain(*a); });
}

}  // namespace medassist::apps
