// ApplyLoraAdapter on synthetic models, checked through the reference forward pass: a Qwen2 with
// q/k/v biases in F32 merged in place computes the logits of a model whose weights were modified
// by hand (W + scale * B @ A in double, written as a new folder); a zero B changes no bit; a bad
// matrix is refused before any weight changes; a Q8_0 model (converted on load, or a GGUF file)
// merges by requantising and stays close to F32; a GGUF llama file, whose q/k rows are permuted,
// merges to the same logits as its Hugging Face original.
#include "model/lora_adapter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "formats/safetensors_reader.h"
#include "formats/safetensors_writer.h"
#include "forward_test_util.h"
#include "model/gguf_export.h"
#include "model/synth_model.h"
#include "model/weight_convert.h"
#include "support/test_support.h"

namespace medassist::model {
namespace {

constexpr char kQwenConfig[] = R"({
  "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
  "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
  "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512,
  "max_position_embeddings": 128, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6,
  "tie_word_embeddings": true, "hidden_act": "silu", "torch_dtype": "float32"
})";

constexpr char kLlamaConfig[] = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama",
  "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
  "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512,
  "max_position_embeddings": 128, "rope_theta": 10000.0, "rms_norm_eps": 1e-5,
  "tie_word_embeddings": false, "hidden_act": "silu", "torch_dtype": "float32"
})";

constexpr LoraModule kAll[] = {LoraModule::kQProj,   LoraModule::kKProj,    LoraModule::kVProj,
                               LoraModule::kOProj,   LoraModule::kGateProj, LoraModule::kUpProj,
                               LoraModule::kDownProj};

// (d_in, d_out) of module in config's model.
std::pair<int64_t, int64_t> ModuleShape(const formats::ModelConfig& c, LoraModule m) {
  switch (m) {
    case LoraModule::kQProj:
      return {c.hidden_size, c.q_dim()};
    case LoraModule::kKProj:
    case LoraModule::kVProj:
      return {c.hidden_size, c.kv_dim()};
    case LoraModule::kOProj:
      return {c.q_dim(), c.hidden_size};
    case LoraModule::kGateProj:
    case LoraModule::kUpProj:
      return {c.hidden_size, c.intermediate_size};
    case LoraModule::kDownProj:
      return {c.intermediate_size, c.hidden_size};
  }
  return {0, 0};
}

// Every layer x modules, A and B uniform in [-0.05, 0.05] (B zero when zero_b).
LoraAdapter RandomAdapter(const formats::ModelConfig& c, std::vector<LoraModule> modules,
                          uint32_t seed, bool zero_b = false, bool rslora = false) {
  LoraAdapter a;
  a.config = {.r = 4, .lora_alpha = 8, .use_rslora = rslora};
  for (LoraModule m : modules) a.config.target_modules.emplace_back(LoraModuleName(m));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-0.05f, 0.05f);
  for (int layer = 0; layer < c.num_hidden_layers; ++layer) {
    for (LoraModule m : modules) {
      const auto [d_in, d_out] = ModuleShape(c, m);
      LoraMatrices mat{
          layer, m, d_in, d_out, std::vector<float>(4 * d_in), std::vector<float>(d_out * 4)};
      for (float& x : mat.a) x = u(rng);
      for (float& x : mat.b) x = zero_b ? 0.0f : u(rng);
      a.matrices.push_back(std::move(mat));
    }
  }
  return a;
}

std::string HfName(int layer, LoraModule m) {
  const bool attn = static_cast<int>(m) <= static_cast<int>(LoraModule::kOProj);
  return "model.layers." + std::to_string(layer) + (attn ? ".self_attn." : ".mlp.") +
         std::string(LoraModuleName(m)) + ".weight";
}

class LoraMerge : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new medassist::testing::TempDir();
    Make(kQwenConfig, "qwen-f32", formats::SafetensorsDtype::kF32);
    Make(kQwenConfig, "qwen-bf16", formats::SafetensorsDtype::kBF16);
    Make(kLlamaConfig, "llama-f32", formats::SafetensorsDtype::kF32);
  }
  static void TearDownTestSuite() { delete dir_; }
  static void Make(const char* config, const std::string& name, formats::SafetensorsDtype dtype) {
    Result<SynthModelSummary> made =
        SynthModelFolder({.config_path = dir_->WriteFile(name + ".json", config),
                          .out_dir = Path(name),
                          .tokenizer_dir = MEDASSIST_TOKENIZER_ASSETS_DIR,
                          .dtype = dtype,
                          .seed = 5});
    ASSERT_TRUE(made.ok()) << made.status().ToString();
  }
  static std::string Path(const std::string& name) { return dir_->path() + "/" + name; }
  static Model Open(const std::string& path) {
    Result<Model> m = Model::Open(path);
    CHECK(m.ok()) << m.status().ToString();
    return std::move(m).value();
  }
  static std::string ExportGgufOrDie(const std::string& name, WeightMix mix) {
    const std::string out = Path(name + "-" + std::string(WeightMixName(mix)) + ".gguf");
    Result<GgufExportSummary> s = ExportGguf({.model_dir = Path(name),
                                              .out_path = out,
                                              .tokenizer_path = medassist::testing::SharedDataPath(
                                                  "tiny-models/stories260K/stories260K.gguf"),
                                              .out_type = mix});
    CHECK(s.ok()) << s.status().ToString();
    return out;
  }

  static medassist::testing::TempDir* dir_;
};
medassist::testing::TempDir* LoraMerge::dir_ = nullptr;

// Every position's logits of a fixed prompt, from the reference forward pass.
std::vector<float> Logits(const Model& m) {
  const std::vector<int32_t> ids = {1, 300, 45, 7, 511, 2, 99};
  testing::SequenceCache cache = testing::MakeSequenceCache(m, static_cast<int32_t>(ids.size()));
  return testing::Prefill(m, cache, ids, 0, /*all_logits=*/true);
}

float MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float d = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

// base (an F32 folder) with the adapter merged by hand in double, written to out; opened.
Model HandMerged(const std::string& base, const LoraAdapter& adapter, const std::string& out) {
  std::filesystem::create_directories(out);
  std::filesystem::copy_file(base + "/config.json", out + "/config.json");
  Result<formats::SafetensorsFile> st = formats::SafetensorsFile::Open(base + "/model.safetensors");
  CHECK(st.ok()) << st.status().ToString();
  const double scale = LoraScale(adapter.config);
  const int r = adapter.config.r;
  formats::SafetensorsWriter w;
  for (const formats::SafetensorsTensor& t : st->tensors()) {
    CHECK(t.dtype == formats::SafetensorsDtype::kF32);
    std::vector<float> v(t.n_elements);
    std::memcpy(v.data(), t.data.data(), v.size() * sizeof(float));
    for (const LoraMatrices& m : adapter.matrices) {
      if (HfName(m.layer, m.module) != t.name) continue;
      for (int64_t o = 0; o < m.d_out; ++o) {
        for (int64_t c = 0; c < m.d_in; ++c) {
          double delta = 0;
          for (int k = 0; k < r; ++k) delta += double{m.b[o * r + k]} * m.a[k * m.d_in + c];
          v[o * m.d_in + c] = static_cast<float>(v[o * m.d_in + c] + scale * delta);
        }
      }
    }
    w.AddTensor(t.name, t.dtype, t.shape,
                std::span(reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)));
  }
  CHECK(w.WriteToFile(out + "/model.safetensors").ok());
  Result<Model> m = Model::Open(out);
  CHECK(m.ok()) << m.status().ToString();
  return std::move(m).value();
}

void ExpectClose(const std::vector<float>& got, const std::vector<float>& want, float rel) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], rel * (1 + std::fabs(want[i]))) << "logit " << i;
  }
}

TEST_F(LoraMerge, F32MergeMatchesWeightsModifiedByHand) {
  for (bool rslora : {false, true}) {
    Model m = Open(Path("qwen-f32"));
    const std::vector<float> before = Logits(m);
    const LoraAdapter a =
        RandomAdapter(m.config(), {std::begin(kAll), std::end(kAll)}, 1, false, rslora);
    ThreadPool pool(2);
    Result<LoraApplied> applied = ApplyLoraAdapter(m, a, pool);
    ASSERT_TRUE(applied.ok()) << applied.status().ToString();
    EXPECT_EQ(applied->n_matrices, 14u);
    EXPECT_EQ(applied->modules.size(), 7u);
    EXPECT_EQ(applied->r, 4);
    EXPECT_DOUBLE_EQ(applied->scale, rslora ? 4.0 : 2.0);
    EXPECT_EQ(m.weights().layers[0].wq.type, kernels::WeightFormat::kF32);
    const std::vector<float> merged = Logits(m);
    const Model hand = HandMerged(Path("qwen-f32"), a, Path(rslora ? "hand-rslora" : "hand"));
    ExpectClose(merged, Logits(hand), 2e-5f);
    EXPECT_GT(MaxAbsDiff(merged, before), 0.05f) << "the adapter must change the logits";
  }
}

TEST_F(LoraMerge, SubsetOfModulesAndLayers) {
  Model m = Open(Path("qwen-f32"));
  LoraAdapter a = RandomAdapter(m.config(), {LoraModule::kVProj, LoraModule::kDownProj}, 2);
  a.matrices.erase(a.matrices.begin());  // layer 0's v_proj
  ThreadPool pool(3);
  ASSERT_TRUE(ApplyLoraAdapter(m, a, pool).ok());
  ExpectClose(Logits(m), Logits(HandMerged(Path("qwen-f32"), a, Path("hand-subset"))), 2e-5f);
}

TEST_F(LoraMerge, ZeroBLeavesLogitsBitIdentical) {
  for (const char* name : {"qwen-f32", "qwen-bf16"}) {
    Model m = Open(Path(name));
    const std::vector<float> before = Logits(m);
    const LoraAdapter a = RandomAdapter(m.config(), {std::begin(kAll), std::end(kAll)}, 3, true);
    ThreadPool pool(2);
    ASSERT_TRUE(ApplyLoraAdapter(m, a, pool).ok());
    const std::vector<float> after = Logits(m);
    ASSERT_EQ(before.size(), after.size());
    EXPECT_EQ(std::memcmp(before.data(), after.data(), before.size() * sizeof(float)), 0) << name;
  }
}

TEST_F(LoraMerge, BadShapesAreRefusedBeforeAnythingChanges) {
  Model m = Open(Path("qwen-f32"));
  const std::vector<float> before = Logits(m);
  const uint8_t* wq_before = m.weights().layers[0].wq.data;
  LoraAdapter a = RandomAdapter(m.config(), {LoraModule::kQProj, LoraModule::kVProj}, 4);
  LoraMatrices& last = a.matrices.back();  // layer 1's v_proj, one input column too many
  last.d_in += 1;
  last.a.resize(static_cast<size_t>(4 * last.d_in));
  ThreadPool pool(2);
  Result<LoraApplied> r = ApplyLoraAdapter(m, a, pool);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("v_proj of layer 1 is (d_out 32, d_in 65)"),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("another base model"), std::string::npos);
  EXPECT_EQ(m.weights().layers[0].wq.data, wq_before);
  EXPECT_EQ(Logits(m), before);

  LoraAdapter deep = RandomAdapter(m.config(), {LoraModule::kQProj}, 5);
  deep.matrices.back().layer = 7;
  r = ApplyLoraAdapter(m, deep, pool);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("layer 7 but"), std::string::npos) << r.status().message();
  EXPECT_EQ(Logits(m), before);
}

TEST_F(LoraMerge, Q8_0BaseMergesByRequantisingAndStaysClose) {
  Model f32 = Open(Path("qwen-f32"));
  const LoraAdapter a = RandomAdapter(f32.config(), {std::begin(kAll), std::end(kAll)}, 6);
  ThreadPool pool(2);
  ASSERT_TRUE(ApplyLoraAdapter(f32, a, pool).ok());
  const std::vector<float> want = Logits(f32);

  Model converted = Open(Path("qwen-f32"));
  ASSERT_TRUE(ConvertWeights(converted, WeightMix::kQ8_0, pool).ok());
  ASSERT_TRUE(ApplyLoraAdapter(converted, a, pool).ok());
  EXPECT_EQ(converted.weights().layers[1].w_down.type, kernels::WeightFormat::kQ8_0);
  const std::vector<float> from_converted = Logits(converted);

  Model gguf = Open(ExportGgufOrDie("qwen-f32", WeightMix::kQ8_0));
  ASSERT_TRUE(ApplyLoraAdapter(gguf, a, pool).ok());
  const std::vector<float> from_gguf = Logits(gguf);

  // Same Q8_0 bytes before (weight_convert.h), same merge: the same logits, bit for bit.
  EXPECT_EQ(from_converted, from_gguf);
  float scale = 0;
  for (float x : want) scale = std::max(scale, std::fabs(x));
  // Q8_0's rounding moves these logits by ~0.6% of the largest; the adapter by more than 5%.
  EXPECT_LT(MaxAbsDiff(from_gguf, want), 0.02f * scale);
}

TEST_F(LoraMerge, GgufLlamaPermutedQkRowsMergeLikeTheOriginal) {
  Model hf = Open(Path("llama-f32"));
  const LoraAdapter a = RandomAdapter(hf.config(), {std::begin(kAll), std::end(kAll)}, 7);
  ThreadPool pool(2);
  ASSERT_TRUE(ApplyLoraAdapter(hf, a, pool).ok());
  Model gguf = Open(ExportGgufOrDie("llama-f32", WeightMix::kKeep));
  ASSERT_EQ(gguf.rope_style(), RopeStyle::kInterleavedPairs);
  ASSERT_TRUE(ApplyLoraAdapter(gguf, a, pool).ok());
  ExpectClose(Logits(gguf), Logits(hf), 2e-5f);
}

}  // namespace
}  // namespace medassist::model
