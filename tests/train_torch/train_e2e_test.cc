// The trainer end to end through the medassist binary, on a synthetic tiny Qwen2 with the real
// Qwen2.5 tokenizer and chat template (so the target mixing and loss masking run on real data):
//   - LoRA r=8 on all seven projections over 32 demo rows: the training loss falls by >= 40% and
//     the eval loss falls; the metrics are written (JSONL, TensorBoard, the HTML report);
//   - the adapter is PEFT's layout, merges with `medassist merge`, and the merged model and the
//     base with --lora generate the same text;
//   - resume from a checkpoint continues the uninterrupted run's per-step losses;
//   - two data-parallel processes reproduce one process with the same global batch.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace medassist {
namespace {

namespace fs = std::filesystem;
using testing::SharedDataPath;

// Vocabulary of the real tokenizer; everything else tiny, so a step takes a fraction of a second.
constexpr char kConfig[] = R"({
  "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
  "hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2,
  "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 151936,
  "max_position_embeddings": 1024, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6,
  "tie_word_embeddings": true, "hidden_act": "silu", "torch_dtype": "float32",
  "bos_token_id": 151643, "eos_token_id": 151645
})";

struct CliRun {
  int code = -1;
  std::string out, err;
};

// Runs the medassist binary with args; stdout and stderr captured.
CliRun Medassist(const std::vector<std::string>& args, const std::string& scratch) {
  std::string cmd = MEDASSIST_BIN;
  for (const std::string& a : args) cmd += " '" + a + "'";
  const std::string err_path = scratch + "/stderr.txt";
  cmd += " 2>'" + err_path + "'";
  CliRun run;
  FILE* pipe = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) run.out.append(buf, n);
  const int status = pclose(pipe);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  run.err.assign(std::istreambuf_iterator<char>(err), {});
  return run;
}

// metrics.jsonl: one object per line.
std::vector<nlohmann::json> ReadMetrics(const std::string& run_dir) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(run_dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

// step -> value of `key` over the lines that have it.
std::map<int64_t, double> Series(const std::vector<nlohmann::json>& rows, const std::string& key) {
  std::map<int64_t, double> s;
  for (const auto& r : rows) {
    if (r.contains(key) && r[key].is_number()) s[r["step"].get<int64_t>()] = r[key].get<double>();
  }
  return s;
}

// A random model's output head can barely express anything but a near-uniform distribution: with
// the final RMSNorm's weights near 1, a logit is at most about d * 0.02 * 1 = 2.6 above the mean
// (d = 128), whatever the LoRA makes of the hidden state. Trained models grow that scale; here the
// final norm's weights are multiplied by kFinalNormScale so that a peaked prediction is reachable
// (the untrained model is then confidently wrong, as a base model is on a new domain).
constexpr float kFinalNormScale = 20.0f;

// Multiplies an F32 tensor of a safetensors file in place.
void ScaleTensor(const std::string& path, const std::string& name, float factor) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  uint64_t header_size = 0;
  f.read(reinterpret_cast<char*>(&header_size), 8);
  std::string header(header_size, '\0');
  f.read(header.data(), static_cast<std::streamsize>(header_size));
  const nlohmann::json entry = nlohmann::json::parse(header).at(name);
  ASSERT_EQ(entry.at("dtype"), "F32");
  const uint64_t begin = 8 + header_size + entry.at("data_offsets")[0].get<uint64_t>();
  const uint64_t end = 8 + header_size + entry.at("data_offsets")[1].get<uint64_t>();
  std::vector<float> values((end - begin) / 4);
  f.seekg(static_cast<std::streamoff>(begin));
  f.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(end - begin));
  for (float& v : values) v *= factor;
  f.seekp(static_cast<std::streamoff>(begin));
  f.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(end - begin));
  ASSERT_TRUE(f.good());
}

class TrainE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    const std::string config = dir_->WriteFile("config.json", kConfig);
    model_ = dir_->path() + "/model";
    CliRun made = Medassist(
        {"synth-model", "--config", config, "--out", model_, "--dtype", "f32", "--seed", "5"},
        dir_->path());
    ASSERT_EQ(made.code, 0) << made.err;
    ScaleTensor(model_ + "/model.safetensors", "model.norm.weight", kFinalNormScale);
    // 36 demo rows: 4 held out for evaluation (--eval-count 4), 32 to train on.
    std::ifstream in(SharedDataPath("medical-o1-sft/huatuogpt-o1_demo_sft_198.jsonl"));
    std::string rows, line;
    for (int i = 0; i < 36 && std::getline(in, line); ++i) rows += line + "\n";
    data_ = dir_->WriteFile("rows.jsonl", rows);
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::vector<std::string> TrainArgs(const std::string& out) {
    return {"train", "--model",         model_, "--data",        data_,       "--output-dir",
            out,     "--max-length",    "128",  "--eval-count",  "4",         "--lora-r",
            "8",     "--lora-alpha",    "16",   "--batch-size",  "4",         "--grad-accum",
            "2",     "--logging-steps", "1",    "--no-progress", "--threads", "2"};
  }

  static inline testing::TempDir* dir_ = nullptr;
  static inline std::string model_, data_;
};

TEST_F(TrainE2eTest, LossFallsAndTheAdapterExportsMergesAndServes) {
  const std::string out = dir_->path() + "/run";
  std::vector<std::string> args = TrainArgs(out);
  for (std::string a : {"--epochs", "6", "--learning-rate", "2e-2", "--eval-steps", "4",
                        "--save-steps", "8", "--warmup-ratio", "0.05"}) {
    args.push_back(a);
  }
  CliRun run = Medassist(args, dir_->path());
  ASSERT_EQ(run.code, 0) << run.err;

  const std::vector<nlohmann::json> rows = ReadMetrics(out);
  const std::map<int64_t, double> loss = Series(rows, "loss");
  const std::map<int64_t, double> eval_loss = Series(rows, "eval_loss");
  ASSERT_EQ(loss.size(), 24u);  // 32 examples / 8 per step x 6 epochs
  ASSERT_GE(eval_loss.size(), 2u);
  const double first = loss.begin()->second, last = loss.rbegin()->second;
  EXPECT_LT(last, 0.6 * first) << "loss " << first << " -> " << last;
  EXPECT_LT(eval_loss.rbegin()->second, eval_loss.begin()->second);
  for (const char* key :
       {"mean_token_accuracy", "entropy", "grad_norm", "learning_rate", "epoch", "num_tokens",
        "train_tokens_per_second", "system/cpu_percent", "system/process_rss_mb"}) {
    EXPECT_EQ(Series(rows, key).size(), 24u) << key;
  }
  for (const char* key : {"eval_mean_token_accuracy", "eval_entropy", "eval_runtime",
                          "eval_samples_per_second", "eval_steps_per_second"}) {
    EXPECT_EQ(Series(rows, key).size(), eval_loss.size()) << key;
  }
  EXPECT_GT(Series(rows, "mean_token_accuracy").rbegin()->second,
            Series(rows, "mean_token_accuracy").begin()->second);
  EXPECT_DOUBLE_EQ(Series(rows, "epoch").rbegin()->second, 6.0);
  EXPECT_TRUE(fs::exists(out + "/run_config.json"));
  EXPECT_FALSE(fs::is_empty(out + "/tensorboard"));

  // The adapter in PEFT's layout.
  std::ifstream config_file(out + "/adapter/adapter_config.json");
  const nlohmann::json config = nlohmann::json::parse(config_file);
  EXPECT_EQ(config["peft_type"], "LORA");
  EXPECT_EQ(config["r"], 8);
  EXPECT_EQ(config["target_modules"].size(), 7u);
  EXPECT_TRUE(fs::exists(out + "/adapter/adapter_model.safetensors"));
  EXPECT_TRUE(fs::exists(out + "/checkpoint-24/optimizer.pt"));
  // --save-total-limit 2 (the default): checkpoints 8, 16, 24 were written and the newest two stay
  // (the best by eval_loss is among them while the eval loss falls); the state names the best.
  EXPECT_FALSE(fs::exists(out + "/checkpoint-8"));
  EXPECT_TRUE(fs::exists(out + "/checkpoint-16/trainer_state.json"));
  std::ifstream state_file(out + "/checkpoint-24/trainer_state.json");
  const nlohmann::json state = nlohmann::json::parse(state_file);
  EXPECT_EQ(state["global_step"], 24);
  const double best_saved = std::min({eval_loss.at(8), eval_loss.at(16), eval_loss.at(24)});
  EXPECT_NEAR(state["best_eval_loss"].get<double>(), best_saved, 1e-9);

  // Report, merge, and the same greedy text from the merged model and from base + --lora.
  CliRun report = Medassist({"train-report", out}, dir_->path());
  EXPECT_EQ(report.code, 0) << report.err;
  EXPECT_TRUE(fs::exists(out + "/report.html"));
  const std::string merged = dir_->path() + "/merged";
  CliRun merge = Medassist(
      {"merge", "--base", model_, "--adapter", out + "/adapter", "--out", merged}, dir_->path());
  ASSERT_EQ(merge.code, 0) << merge.err;
  const std::vector<std::string> gen = {"--prompt", "What causes a fever in children?", "--chat",
                                        "--max-tokens", "12"};
  std::vector<std::string> a = {"generate", "--model", merged};
  a.insert(a.end(), gen.begin(), gen.end());
  CliRun from_merged = Medassist(a, dir_->path());
  a = {"generate", "--model", model_, "--lora", out + "/adapter"};
  a.insert(a.end(), gen.begin(), gen.end());
  CliRun from_lora = Medassist(a, dir_->path());
  a = {"generate", "--model", model_};
  a.insert(a.end(), gen.begin(), gen.end());
  CliRun from_base = Medassist(a, dir_->path());
  ASSERT_EQ(from_merged.code, 0) << from_merged.err;
  ASSERT_EQ(from_lora.code, 0) << from_lora.err;
  EXPECT_FALSE(from_merged.out.empty());
  EXPECT_EQ(from_merged.out, from_lora.out);
  EXPECT_NE(from_merged.out, from_base.out);  // the adapter changed the model
}

// Per-step losses of two runs agree within 1e-5 relative.
void ExpectSameLosses(const std::map<int64_t, double>& want, const std::map<int64_t, double>& got) {
  ASSERT_FALSE(got.empty());
  for (const auto& [step, value] : got) {
    ASSERT_TRUE(want.contains(step)) << step;
    EXPECT_NEAR(value, want.at(step), 1e-5 * std::abs(want.at(step))) << "step " << step;
  }
}

TEST_F(TrainE2eTest, ResumeContinuesTheSameLossCurve) {
  const std::string full = dir_->path() + "/full";
  std::vector<std::string> args = TrainArgs(full);
  for (std::string a :
       {"--max-steps", "6", "--save-steps", "3", "--learning-rate", "5e-3", "--bf16", "off"}) {
    args.push_back(a);
  }
  ASSERT_EQ(Medassist(args, dir_->path()).code, 0);
  // A second run that starts from the first one's checkpoint at step 3.
  const std::string resumed = dir_->path() + "/resumed";
  fs::create_directories(resumed);
  fs::copy(full + "/checkpoint-3", resumed + "/checkpoint-3", fs::copy_options::recursive);
  args = TrainArgs(resumed);
  for (std::string a : {"--max-steps", "6", "--save-steps", "3", "--learning-rate", "5e-3",
                        "--bf16", "off", "--resume", "latest"}) {
    args.push_back(a);
  }
  CliRun run = Medassist(args, dir_->path());
  ASSERT_EQ(run.code, 0) << run.err;
  const std::map<int64_t, double> got = Series(ReadMetrics(resumed), "loss");
  EXPECT_EQ(got.begin()->first, 4);
  EXPECT_EQ(got.size(), 3u);
  ExpectSameLosses(Series(ReadMetrics(full), "loss"), got);

  // A checkpoint of other settings is refused with the reason.
  args.push_back("--seed");
  args.push_back("7");
  CliRun other = Medassist(args, dir_->path());
  EXPECT_EQ(other.code, 1);
  EXPECT_NE(other.err.find("seed"), std::string::npos) << other.err;
}

TEST_F(TrainE2eTest, TwoDataParallelProcessesMatchOneProcess) {
  const std::string one = dir_->path() + "/one";
  std::vector<std::string> args = TrainArgs(one);
  for (std::string a : {"--max-steps", "4", "--learning-rate", "5e-3", "--bf16", "off",
                        "--batch-size", "2", "--grad-accum", "2"}) {
    args.push_back(a);
  }
  CliRun single = Medassist(args, dir_->path());
  ASSERT_EQ(single.code, 0) << single.err;
  const std::string two = dir_->path() + "/two";
  args = TrainArgs(two);
  for (std::string a :
       {"--max-steps", "4", "--learning-rate", "5e-3", "--bf16", "off", "--batch-size", "2",
        "--grad-accum", "1", "--nproc", "2", "--threads", "1"}) {
    args.push_back(a);
  }
  CliRun dp = Medassist(args, dir_->path());
  ASSERT_EQ(dp.code, 0) << dp.err;
  ExpectSameLosses(Series(ReadMetrics(one), "loss"), Series(ReadMetrics(two), "loss"));
  EXPECT_EQ(Series(ReadMetrics(two), "loss").size(), 4u);
}

TEST_F(TrainE2eTest, BadInputIsRefusedWithAMessage) {
  CliRun run = Medassist({"train", "--model", model_, "--data", dir_->path() + "/missing.jsonl",
                          "--output-dir", dir_->path() + "/bad"},
                         dir_->path());
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("missing.jsonl"), std::string::npos) << run.err;
  run = Medassist({"train", "--model", model_, "--data", data_, "--output-dir",
                   dir_->path() + "/bad", "--lora-targets", "q_proj,embed_tokens"},
                  dir_->path());
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("embed_tokens"), std::string::npos) << run.err;
  // Debian's LibTorch is CPU-only: --device cuda is refused with the reason (a CUDA build with a
  // GPU trains instead).
  run = Medassist({"train", "--model", model_, "--data", data_, "--output-dir",
                   dir_->path() + "/cuda", "--device", "cuda", "--max-steps", "1"},
                  dir_->path());
  if (run.code != 0) {
    EXPECT_EQ(run.code, 1);
    EXPECT_NE(run.err.find("no CUDA"), std::string::npos) << run.err;
  }
  const std::string broken = dir_->WriteFile("broken.jsonl", "{\"Question\": 1}\nnot json\n");
  run = Medassist({"train", "--model", model_, "--data", broken, "--output-dir",
                   dir_->path() + "/bad", "--bad-rows", "refuse"},
                  dir_->path());
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("line 1"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace medassist
