// --lora at load against `medassist merge`, run in-process on synthetic Qwen2 models: the logits of
// a base loaded with --lora equal, bit for bit, those of the folder merge writes (F32 and BF16
// bases); merge shards like save_pretrained under a small --max-shard-size, with an index
// Model::Open loads; a Q8_0 load with --lora stays close to F32; --gguf writes the merged weights;
// every refusal exits 1 with its cause and leaves no output behind.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "apps/cli.h"
#include "apps/merge_command.h"
#include "formats/safetensors_reader.h"
#include "model/lora_adapter.h"
#include "model/model.h"
#include "model/synth_model.h"
#include "model/weight_layout.h"
#include "support/test_support.h"

namespace medassist::apps {
namespace {

namespace fs = std::filesystem;
using model::LoraAdapter;
using model::LoraModule;

constexpr char kConfig[] = R"({
  "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
  "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
  "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512,
  "max_position_embeddings": 128, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6,
  "tie_word_embeddings": true, "hidden_act": "silu", "torch_dtype": "float32"
})";
// The same with another MLP width: an adapter trained on one does not fit the other.
constexpr char kWiderConfig[] = R"({
  "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
  "hidden_size": 64, "intermediate_size": 192, "num_hidden_layers": 2,
  "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512,
  "max_position_embeddings": 128, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6,
  "tie_word_embeddings": true, "hidden_act": "silu", "torch_dtype": "float32"
})";
// Qwen2.5's real vocabulary, so that the folder's own tokenizer fits a GGUF export.
constexpr char kFullVocabConfig[] = R"({
  "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
  "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
  "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 151936,
  "max_position_embeddings": 128, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6,
  "tie_word_embeddings": true, "hidden_act": "silu", "torch_dtype": "bfloat16"
})";

struct CliRun {
  int code;
  std::string out, err;
};

CliRun Medassist(std::vector<std::string> args) {
  args.insert(args.begin(), "medassist");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int code = RunCli(static_cast<int>(argv.size()), argv.data());
  std::fflush(stdout);
  std::string out = ::testing::internal::GetCapturedStdout();
  return {code, out, ::testing::internal::GetCapturedStderr()};
}

// Every layer's seven projections, A and B uniform in [-0.05, 0.05], r 4, alpha 8.
LoraAdapter RandomAdapter(const formats::ModelConfig& c, uint32_t seed) {
  LoraAdapter a;
  a.config = {.r = 4, .lora_alpha = 8, .base_model_name_or_path = "synthetic-qwen2"};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-0.05f, 0.05f);
  const std::pair<int64_t, int64_t> shapes[] = {
      {c.hidden_size, c.q_dim()},           {c.hidden_size, c.kv_dim()},
      {c.hidden_size, c.kv_dim()},          {c.q_dim(), c.hidden_size},
      {c.hidden_size, c.intermediate_size}, {c.hidden_size, c.intermediate_size},
      {c.intermediate_size, c.hidden_size}};
  for (int m = 0; m < model::kNumLoraModules; ++m) {
    a.config.target_modules.emplace_back(model::LoraModuleName(static_cast<LoraModule>(m)));
  }
  for (int layer = 0; layer < c.num_hidden_layers; ++layer) {
    for (int m = 0; m < model::kNumLoraModules; ++m) {
      const auto [d_in, d_out] = shapes[m];
      model::LoraMatrices mat{layer, static_cast<LoraModule>(m),   d_in,
                              d_out, std::vector<float>(4 * d_in), std::vector<float>(d_out * 4)};
      for (float& x : mat.a) x = u(rng);
      for (float& x : mat.b) x = u(rng);
      a.matrices.push_back(std::move(mat));
    }
  }
  return a;
}

class LoraCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new medassist::testing::TempDir();
    Make(kConfig, "f32", formats::SafetensorsDtype::kF32);
    Make(kConfig, "bf16", formats::SafetensorsDtype::kBF16);
    Make(kWiderConfig, "wider", formats::SafetensorsDtype::kF32);
    Result<formats::ModelConfig> c = formats::ParseModelConfig(kConfig, "config");
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(model::WritePeftAdapter(Path("adapter"), RandomAdapter(*c, 1)).ok());
    Result<formats::ModelConfig> wider = formats::ParseModelConfig(kWiderConfig, "config");
    ASSERT_TRUE(model::WritePeftAdapter(Path("wider-adapter"), RandomAdapter(*wider, 2)).ok());
  }
  static void TearDownTestSuite() { delete dir_; }
  static void Make(const char* config, const std::string& name, formats::SafetensorsDtype dtype) {
    Result<model::SynthModelSummary> made = model::SynthModelFolder(
        {.config_path = dir_->WriteFile(name + ".json", config),
         .out_dir = Path(name),
         .tokenizer_dir = std::string(MEDASSIST_SOURCE_DIR) + "/assets/qwen2.5-tokenizer",
         .dtype = dtype,
         .seed = 9});
    ASSERT_TRUE(made.ok()) << made.status().ToString();
  }
  static std::string Path(const std::string& name) { return dir_->path() + "/" + name; }

  // Every position's logits of a short prompt (the logits command: the reference forward pass).
  static std::vector<float> Logits(const std::string& model, const std::string& lora = "",
                                   const std::string& dtype = "keep") {
    std::vector<std::string> args = {"logits", "--model",     model,           "--dtype",
                                     dtype,    "--token-ids", "1,45,300,7,511"};
    if (!lora.empty()) args.insert(args.end(), {"--lora", lora});
    const CliRun r = Medassist(args);
    EXPECT_EQ(r.code, 0) << r.err;
    std::vector<float> all;
    if (r.code != 0) return all;
    const nlohmann::json parsed = nlohmann::json::parse(r.out);
    for (const auto& row : parsed.at("logits")) {
      for (float v : row) all.push_back(v);
    }
    return all;
  }

  static medassist::testing::TempDir* dir_;
};
medassist::testing::TempDir* LoraCli::dir_ = nullptr;

float MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float d = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

TEST_F(LoraCli, LoraAtLoadEqualsTheMergedFolder) {
  for (const char* base : {"f32", "bf16"}) {
    const std::string out = Path(std::string("merged-") + base);
    const CliRun r =
        Medassist({"merge", "--base", Path(base), "--adapter", Path("adapter"), "--out", out});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("14 matrices"), std::string::npos) << r.err;
    const std::vector<float> at_load = Logits(Path(base), Path("adapter"));
    ASSERT_FALSE(at_load.empty());
    EXPECT_EQ(Logits(out), at_load) << base;
    EXPECT_GT(MaxAbsDiff(Logits(Path(base)), at_load), 0.01f) << "the adapter must matter";

    // One shard at the default 5GB, in the base's type, with the base's other files.
    Result<formats::SafetensorsFile> st =
        formats::SafetensorsFile::Open(out + "/model.safetensors");
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    for (const formats::SafetensorsTensor& t : st->tensors()) {
      EXPECT_EQ(t.dtype, std::string(base) == "f32" ? formats::SafetensorsDtype::kF32
                                                    : formats::SafetensorsDtype::kBF16);
    }
    EXPECT_FALSE(fs::exists(out + "/model.safetensors.index.json"));
    for (const char* f : {"config.json", "vocab.json", "merges.txt", "tokenizer_config.json"}) {
      EXPECT_EQ(medassist::testing::ReadFileOrFail(out + "/" + f),
                medassist::testing::ReadFileOrFail(Path(base) + "/" + f))
          << f;
    }
  }
}

TEST_F(LoraCli, ShardsLikeSavePretrained) {
  const std::string out = Path("sharded");
  const CliRun r = Medassist({"merge", "--base", Path("f32"), "--adapter", Path("adapter"), "--out",
                              out, "--max-shard-size", "100KB"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(out + "/model.safetensors"));
  const nlohmann::json index = nlohmann::json::parse(
      medassist::testing::ReadFileOrFail(out + "/model.safetensors.index.json"));
  std::set<std::string> shards;
  for (const auto& [name, file] : index.at("weight_map").items()) shards.insert(file);
  ASSERT_GE(shards.size(), 3u);
  const size_t n = shards.size();
  uint64_t total = 0;
  size_t n_tensors = 0;
  for (size_t i = 1; i <= n; ++i) {
    char name[64];
    std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", i, n);
    ASSERT_EQ(shards.count(name), 1u) << name;
    Result<formats::SafetensorsFile> st = formats::SafetensorsFile::Open(out + "/" + name);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    uint64_t shard_bytes = 0;
    for (const formats::SafetensorsTensor& t : st->tensors()) {
      EXPECT_EQ(index["weight_map"][t.name], name) << t.name;
      shard_bytes += t.data.size();
      ++n_tensors;
    }
    // A shard passes the limit only when it holds a single tensor larger than it.
    if (st->tensors().size() > 1) {
      EXPECT_LE(shard_bytes, 100'000u) << name;
    }
    total += shard_bytes;
  }
  EXPECT_EQ(index["metadata"]["total_size"].get<uint64_t>(), total);
  EXPECT_EQ(n_tensors, index["weight_map"].size());
  Result<model::Model> m = model::Model::Open(out);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(n_tensors, model::HfWeightLayout(m->config()).size());
  const std::vector<float> merged = Logits(out);
  ASSERT_FALSE(merged.empty());
  EXPECT_EQ(merged, Logits(Path("f32"), Path("adapter")));
}

TEST_F(LoraCli, Q8_0WithLoraStaysCloseToF32) {
  const std::vector<float> f32 = Logits(Path("f32"), Path("adapter"));
  const std::vector<float> q8 = Logits(Path("f32"), Path("adapter"), "q8_0");
  ASSERT_FALSE(q8.empty());
  float scale = 0;
  for (float x : f32) scale = std::max(scale, std::fabs(x));
  EXPECT_LT(MaxAbsDiff(q8, f32), 0.02f * scale);
  EXPECT_NE(q8, f32);
}

TEST_F(LoraCli, MergeAlsoWritesGguf) {
  Make(kFullVocabConfig, "full-vocab", formats::SafetensorsDtype::kBF16);
  Result<formats::ModelConfig> c = formats::ParseModelConfig(kFullVocabConfig, "config");
  ASSERT_TRUE(model::WritePeftAdapter(Path("full-vocab-adapter"), RandomAdapter(*c, 3)).ok());
  const CliRun r =
      Medassist({"merge", "--base", Path("full-vocab"), "--adapter", Path("full-vocab-adapter"),
                 "--out", Path("full-vocab-merged"), "--gguf", Path("full-vocab-merged.gguf")});
  ASSERT_EQ(r.code, 0) << r.err;
  Result<model::Model> hf = model::Model::Open(Path("full-vocab-merged"));
  Result<model::Model> gguf = model::Model::Open(Path("full-vocab-merged.gguf"));
  ASSERT_TRUE(hf.ok() && gguf.ok());
  const model::Weight& a = hf->weights().layers[0].w_down;
  const model::Weight& b = gguf->weights().layers[0].w_down;
  ASSERT_EQ(a.type, b.type);
  ASSERT_EQ(a.rows * a.row_bytes(), b.rows * b.row_bytes());
  EXPECT_EQ(std::memcmp(a.data, b.data, static_cast<size_t>(a.rows * a.row_bytes())), 0);
}

TEST_F(LoraCli, RefusalsExitOneAndLeaveNothing) {
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  const std::string out = Path("refused");
  dir_->WriteFile("base.gguf", "GGUF");
  fs::create_directories(Path("not-empty"));
  dir_->WriteFile("not-empty/x", "x");
  const Case cases[] = {
      {{"--base", Path("f32"), "--adapter", Path("missing"), "--out", out},
       Path("missing") + ": LoRA adapter folder not found"},
      {{"--base", Path("f32"), "--adapter", Path("wider-adapter"), "--out", out},
       "was the adapter trained on another base model"},
      {{"--base", Path("base.gguf"), "--adapter", Path("adapter"), "--out", out},
       "merge needs a Hugging Face safetensors folder as --base"},
      {{"--base", Path("f32"), "--adapter", Path("adapter"), "--out", Path("not-empty")},
       "the folder is not empty"},
      {{"--base", Path("f32"), "--adapter", Path("adapter"), "--out", out, "--max-shard-size",
        "5 lots"},
       "--max-shard-size: '5 lots' is not a size"},
      {{"--adapter", Path("adapter"), "--out", out}, "merge needs --base DIR"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"merge"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const CliRun r = Medassist(args);
    EXPECT_EQ(r.code, 1) << c.expected;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out)) << c.expected;
  }
  for (const auto& e : fs::directory_iterator(dir_->path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  }
  // --lora at load: the same checks, before any weight changes.
  const CliRun r = Medassist(
      {"logits", "--model", Path("f32"), "--token-ids", "1,2", "--lora", Path("wider-adapter")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("error: --lora " + Path("wider-adapter")), std::string::npos) << r.err;
}

TEST(ParseShardSize, TransformersUnits) {
  EXPECT_EQ(*ParseShardSize("5GB"), 5'000'000'000u);
  EXPECT_EQ(*ParseShardSize("500MB"), 500'000'000u);
  EXPECT_EQ(*ParseShardSize("2GiB"), uint64_t{2} << 30);
  EXPECT_EQ(*ParseShardSize("10KiB"), 10240u);
  EXPECT_EQ(*ParseShardSize("123"), 123u);
  EXPECT_FALSE(ParseShardSize("0").ok());
  EXPECT_FALSE(ParseShardSize("GB").ok());
  EXPECT_FALSE(ParseShardSize("5TB").ok());
}

}  // namespace
}  // namespace medassist::apps
