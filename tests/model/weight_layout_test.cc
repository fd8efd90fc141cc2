// HfWeightLayout against real checkpoints: the stories260K HF folders (names and shapes of every
// tensor) and the parameter counts of the Qwen2.5 0.5B and 3B configs.
#include <gtest/gtest.h>

#include <map>

#include "formats/hf_config.h"
#include "formats/safetensors_reader.h"
#include "model/weight_layout.h"
#include "support/test_support.h"

namespace medassist::model {
namespace {

using medassist::testing::SharedDataPath;
using Shapes = std::map<std::string, std::vector<uint64_t>>;

formats::ModelConfig ConfigOrDie(const std::string& relative) {
  Result<formats::ModelConfig> c = formats::ReadModelConfig(SharedDataPath(relative));
  CHECK(c.ok()) << c.status().ToString();
  return *c;
}

Shapes LayoutShapes(const std::vector<WeightSpec>& layout) {
  Shapes out;
  for (const WeightSpec& w : layout) EXPECT_TRUE(out.emplace(w.name, w.shape).second) << w.name;
  return out;
}

void ExpectLayoutMatchesCheckpoint(const std::string& folder) {
  const std::string dir = "tiny-models/stories260K/" + folder;
  Result<formats::SafetensorsFile> f =
      formats::SafetensorsFile::Open(SharedDataPath(dir + "/model.safetensors"));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  Shapes file;
  for (const formats::SafetensorsTensor& t : f->tensors()) file[t.name] = t.shape;
  EXPECT_EQ(LayoutShapes(HfWeightLayout(ConfigOrDie(dir + "/config.json"))), file);
}

TEST(WeightLayout, MatchesStories260KQwen2Checkpoint) {
  ExpectLayoutMatchesCheckpoint("stories260K-hf-qwen2");
}

TEST(WeightLayout, MatchesStories260KLlamaCheckpoint) {
  ExpectLayoutMatchesCheckpoint("stories260K-hf-llama");
}

uint64_t SumElements(const std::vector<WeightSpec>& layout) {
  uint64_t n = 0;
  for (const WeightSpec& w : layout) n += w.n_elements();
  return n;
}

TEST(WeightLayout, ElementCountMatchesCountParametersForQwen25) {
  for (const char* name : {"Qwen2.5-0.5B-Instruct", "Qwen2.5-3B-Instruct"}) {
    const formats::ModelConfig c =
        ConfigOrDie(std::string("qwen-configs/") + name + "/config.json");
    const std::vector<WeightSpec> layout = HfWeightLayout(c);
    EXPECT_EQ(SumElements(layout), static_cast<uint64_t>(formats::CountParameters(c))) << name;
    EXPECT_TRUE(c.tie_word_embeddings) << name;
    EXPECT_EQ(layout.back().name, "model.norm.weight") << name;  // no lm_head when tied
  }
  EXPECT_EQ(
      SumElements(HfWeightLayout(ConfigOrDie("qwen-configs/Qwen2.5-0.5B-Instruct/config.json"))),
      494'032'768u);
}

TEST(WeightLayout, LlamaBiasesFollowTheConfig) {
  Result<formats::ModelConfig> c = formats::ParseModelConfig(
      R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 16, "intermediate_size": 24,
          "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
          "vocab_size": 10, "max_position_embeddings": 32, "rms_norm_eps": 1e-5,
          "attention_bias": true, "mlp_bias": true})",
      "inline");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const Shapes shapes = LayoutShapes(HfWeightLayout(*c));
  EXPECT_EQ(shapes.at("model.layers.0.self_attn.q_proj.bias"), std::vector<uint64_t>{16});
  EXPECT_EQ(shapes.at("model.layers.0.self_attn.k_proj.bias"), std::vector<uint64_t>{8});
  EXPECT_EQ(shapes.at("model.layers.0.self_attn.o_proj.bias"), std::vector<uint64_t>{16});
  EXPECT_EQ(shapes.at("model.layers.0.mlp.gate_proj.bias"), std::vector<uint64_t>{24});
  EXPECT_EQ(shapes.at("model.layers.0.mlp.down_proj.bias"), std::vector<uint64_t>{16});
  EXPECT_EQ(shapes.at("lm_head.weight"), (std::vector<uint64_t>{10, 16}));
  EXPECT_EQ(SumElements(HfWeightLayout(*c)), static_cast<uint64_t>(formats::CountParameters(*c)));
}

}  // namespace
}  // namespace medassist::model
