// Quantize on load (ConvertWeights) against the GGUF exporter: for each mix, a synthetic BF16
// Qwen2 converted after loading holds, tensor for tensor, the types and bytes of the file
// export-gguf writes with that mix, and the fast forward pass gives the same logits bit for bit.
#include "model/weight_convert.h"

#include <gtest/gtest.h>

#include <cstring>

#include "forward_test_util.h"
#include "model/forward.h"
#include "model/gguf_export.h"
#include "model/synth_model.h"
#include "model/weight_layout.h"
#include "support/test_support.h"

namespace medassist::model {
namespace {

using kernels::WeightFormat;

// Rows of 256 (attention) and of 320 (ffn_down: not whole K blocks, so the recipe falls back).
constexpr char kConfig[] = R"({
  "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
  "hidden_size": 256, "intermediate_size": 320, "num_hidden_layers": 3,
  "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512,
  "max_position_embeddings": 256, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6,
  "tie_word_embeddings": true, "hidden_act": "silu", "torch_dtype": "bfloat16"
})";

class WeightConvert : public ::testing::TestWithParam<const char*> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new medassist::testing::TempDir();
    Result<SynthModelSummary> made =
        SynthModelFolder({.config_path = dir_->WriteFile("config.json", kConfig),
                          .out_dir = Hf(),
                          .tokenizer_dir = MEDASSIST_TOKENIZER_ASSETS_DIR,
                          .dtype = formats::SafetensorsDtype::kBF16,
                          .seed = 11});
    ASSERT_TRUE(made.ok()) << made.status().ToString();
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string Hf() { return dir_->path() + "/hf"; }

  static Model Open(const std::string& path) {
    Result<Model> m = Model::Open(path);
    CHECK(m.ok()) << m.status().ToString();
    return std::move(m).value();
  }
  // The HF folder exported with mix (stories tokenizer: 512 tokens).
  static Model Exported(WeightMix mix) {
    const std::string out = dir_->path() + "/" + std::string(WeightMixName(mix)) + ".gguf";
    Result<GgufExportSummary> s = ExportGguf({.model_dir = Hf(),
                                              .out_path = out,
                                              .tokenizer_path = medassist::testing::SharedDataPath(
                                                  "tiny-models/stories260K/stories260K.gguf"),
                                              .out_type = mix});
    CHECK(s.ok()) << s.status().ToString();
    return Open(out);
  }

  static medassist::testing::TempDir* dir_;
};
medassist::testing::TempDir* WeightConvert::dir_ = nullptr;

std::vector<float> Logits(const Model& m, ThreadPool& pool) {
  Forward forward(m, pool, Forward::Options{.isa = kernels::BestIsa(), .reference = false});
  const std::vector<int32_t> ids = {1, 300, 45, 7, 511, 2};
  testing::SequenceCache cache = testing::MakeSequenceCache(m, static_cast<int32_t>(ids.size()));
  Batch batch{{}, {cache.block_table}};
  for (int32_t i = 0; i < static_cast<int32_t>(ids.size()); ++i) {
    batch.rows.push_back({0, ids[i], i, true});
  }
  std::vector<float> logits(ids.size() * static_cast<size_t>(m.config().vocab_size));
  EXPECT_TRUE(forward.Run(batch, cache.kv, logits).ok());
  return logits;
}

TEST_P(WeightConvert, SameBytesAndLogitsAsTheExportedFile) {
  const WeightMix mix = *ParseWeightMix(GetParam());
  Model on_load = Open(Hf());
  ThreadPool pool(3);  // rows split three ways: the bytes must not depend on it
  Result<WeightConversion> c = ConvertWeights(on_load, mix, pool);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->n_converted, 1u + 3 * 7);  // the embedding, 7 matrices per layer
  if (IsQuantisedMix(mix)) {
    EXPECT_LT(c->bytes, c->source_bytes);
  }
  const Model file = Exported(mix);
  size_t n_matrices = 0;
  for (const WeightSpec& spec : HfWeightLayout(on_load.config())) {
    if (spec.shape.size() != 2) continue;
    const Weight& a = WeightByHfName(on_load.weights(), spec.name);
    const Weight& b = WeightByHfName(file.weights(), spec.name);
    ASSERT_EQ(a.type, b.type) << spec.name;
    ASSERT_EQ(a.rows * a.row_bytes(), b.rows * b.row_bytes()) << spec.name;
    EXPECT_EQ(std::memcmp(a.data, b.data, static_cast<size_t>(a.rows * a.row_bytes())), 0)
        << spec.name;
    ++n_matrices;
  }
  EXPECT_EQ(n_matrices, 22u);
  // Norms and biases are not converted; the tied head follows the converted embedding.
  EXPECT_EQ(on_load.weights().final_norm.type, WeightFormat::kBF16);
  EXPECT_EQ(on_load.weights().layers[0].bq.type, WeightFormat::kBF16);
  EXPECT_EQ(on_load.weights().output.data, on_load.weights().token_embedding.data);
  EXPECT_EQ(on_load.weights().output.type, on_load.weights().token_embedding.type);
  const std::vector<float> want = Logits(file, pool);
  EXPECT_TRUE(Logits(on_load, pool) == want) << "logits differ from the exported file's";
}

INSTANTIATE_TEST_SUITE_P(Mixes, WeightConvert,
                         ::testing::Values("q8_0", "q4_0", "q4_k", "q4_k_m", "f16"));

TEST_F(WeightConvert, Q4KMMixAndRefusalToRequantize) {
  Model m = Open(Hf());
  ThreadPool pool(2);
  ASSERT_TRUE(ConvertWeights(m, WeightMix::kQ4_K_M, pool).ok());
  const ModelWeights& w = m.weights();
  EXPECT_EQ(w.token_embedding.type, WeightFormat::kQ6_K);  // the tied output head
  // 3 layers: n/8 = 0 and 7n/8 = 2, so only layer 2 gets the "more bits" attn_v.
  EXPECT_EQ(w.layers[0].wv.type, WeightFormat::kQ4_K);
  EXPECT_EQ(w.layers[2].wv.type, WeightFormat::kQ6_K);
  EXPECT_EQ(w.layers[1].wq.type, WeightFormat::kQ4_K);
  // Rows of 320, not whole K blocks: Q4_K falls back to Q5_0 (Q6_K would to Q8_0).
  EXPECT_EQ(w.layers[1].w_down.type, WeightFormat::kQ5_0);
  // Converting again to another block type is refused and changes nothing.
  Result<WeightConversion> again = ConvertWeights(m, WeightMix::kQ8_0, pool);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(again.status().message().find("already quantised"), std::string::npos);
  EXPECT_EQ(w.layers[1].wq.type, WeightFormat::kQ4_K);
  // keep, and the mix already in place, convert nothing.
  EXPECT_EQ(ConvertWeights(m, WeightMix::kKeep, pool)->n_converted, 0u);
  EXPECT_EQ(ConvertWeights(m, WeightMix::kQ4_K_M, pool)->n_converted, 0u);
}

}  // namespace
}  // namespace medassist::model
