// config.json and generation_config.json as published on the Hugging Face Hub (Qwen2.5 Instruct)
// and as exported for the stories260K tiny models, from ../shared/data.
#include <gtest/gtest.h>

#include <string>

#include "formats/hf_config.h"
#include "support/test_support.h"

namespace medassist::formats {
namespace {

using ::medassist::testing::SharedDataPath;

std::string QwenConfigPath(const std::string& model, const std::string& file) {
  return SharedDataPath("qwen-configs/" + model + "/" + file);
}

std::string StoriesConfigPath(const std::string& variant) {
  return SharedDataPath("tiny-models/stories260K/stories260K-hf-" + variant + "/config.json");
}

TEST(HfConfigGoldenTest, Qwen25HalfBInstruct) {
  auto r = ReadModelConfig(QwenConfigPath("Qwen2.5-0.5B-Instruct", "config.json"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ModelConfig& c = *r;
  EXPECT_EQ(c.architecture, Architecture::kQwen2);
  EXPECT_EQ(c.hidden_size, 896);
  EXPECT_EQ(c.intermediate_size, 4864);
  EXPECT_EQ(c.num_hidden_layers, 24);
  EXPECT_EQ(c.num_attention_heads, 14);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.q_dim(), 896);
  EXPECT_EQ(c.kv_dim(), 128);
  EXPECT_EQ(c.vocab_size, 151936);
  EXPECT_EQ(c.max_position_embeddings, 32768);
  EXPECT_EQ(c.rope_theta, 1000000.0);
  EXPECT_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_TRUE(c.attention_qkv_bias);
  EXPECT_FALSE(c.attention_out_bias);
  EXPECT_FALSE(c.mlp_bias);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_EQ(c.bos_token_id, std::vector<int32_t>({151643}));
  EXPECT_EQ(c.eos_token_id, std::vector<int32_t>({151645}));
  // Hand count: embed 151936*896 = 136,134,656; per layer q 896*896+896, k and v 896*128+128
  // each, o 896*896, MLP 3*896*4864, norms 2*896 = 14,912,384; 24 layers = 357,897,216;
  // final norm 896; lm_head tied.
  EXPECT_EQ(CountParameters(c), 494'032'768);
  EXPECT_EQ(DescribeModelConfig(c),
            "Qwen2ForCausalLM: 24 layers, hidden 896, intermediate 4864, heads 14 (kv 2, "
            "head_dim 64), vocab 151936, context 32768, rope_theta 1e+06, rms_norm_eps 1e-06, "
            "qkv bias, tied embeddings, bfloat16, 494.03M params");
}

TEST(HfConfigGoldenTest, Qwen253BInstruct) {
  auto r = ReadModelConfig(QwenConfigPath("Qwen2.5-3B-Instruct", "config.json"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ModelConfig& c = *r;
  EXPECT_EQ(c.architecture, Architecture::kQwen2);
  EXPECT_EQ(c.hidden_size, 2048);
  EXPECT_EQ(c.intermediate_size, 11008);
  EXPECT_EQ(c.num_hidden_layers, 36);
  EXPECT_EQ(c.num_attention_heads, 16);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.vocab_size, 151936);
  EXPECT_EQ(c.max_position_embeddings, 32768);
  EXPECT_EQ(c.rope_theta, 1000000.0);
  EXPECT_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_TRUE(c.attention_qkv_bias);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  // Hand count: embed 151936*2048 = 311,164,928; per layer q 2048*2048+2048, k and v
  // 2048*256+256 each, o 2048*2048, MLP 3*2048*11008, norms 2*2048 = 77,076,992; 36 layers =
  // 2,774,771,712; final norm 2048; lm_head tied.
  EXPECT_EQ(CountParameters(c), 3'085'938'688);
  EXPECT_NE(DescribeModelConfig(c).find("3.09B params"), std::string::npos);
}

TEST(HfConfigGoldenTest, QwenGenerationConfigs) {
  auto small =
      ReadGenerationConfig(QwenConfigPath("Qwen2.5-0.5B-Instruct", "generation_config.json"));
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  EXPECT_EQ(small->do_sample, std::optional<bool>(true));
  ASSERT_TRUE(small->temperature.has_value());
  EXPECT_FLOAT_EQ(*small->temperature, 0.7f);
  ASSERT_TRUE(small->top_p.has_value());
  EXPECT_FLOAT_EQ(*small->top_p, 0.8f);
  EXPECT_EQ(small->top_k, std::optional<int32_t>(20));
  ASSERT_TRUE(small->repetition_penalty.has_value());
  EXPECT_FLOAT_EQ(*small->repetition_penalty, 1.1f);
  EXPECT_FALSE(small->max_new_tokens.has_value());
  EXPECT_EQ(small->eos_token_id, std::vector<int32_t>({151645, 151643}));
  EXPECT_EQ(small->bos_token_id, std::optional<int32_t>(151643));
  EXPECT_EQ(small->pad_token_id, std::optional<int32_t>(151643));

  auto large =
      ReadGenerationConfig(QwenConfigPath("Qwen2.5-3B-Instruct", "generation_config.json"));
  ASSERT_TRUE(large.ok()) << large.status().ToString();
  ASSERT_TRUE(large->repetition_penalty.has_value());
  EXPECT_FLOAT_EQ(*large->repetition_penalty, 1.05f);
  EXPECT_FLOAT_EQ(*large->temperature, 0.7f);
  EXPECT_EQ(large->top_k, std::optional<int32_t>(20));
  EXPECT_EQ(large->eos_token_id, std::vector<int32_t>({151645, 151643}));
}

// The element counts below were summed from the shapes in each model.safetensors header.
TEST(HfConfigGoldenTest, StoriesLlama) {
  auto r = ReadModelConfig(StoriesConfigPath("llama"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ModelConfig& c = *r;
  EXPECT_EQ(c.architecture, Architecture::kLlama);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.num_hidden_layers, 5);
  EXPECT_EQ(c.num_attention_heads, 8);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.kv_dim(), 32);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_qkv_bias);
  EXPECT_FALSE(c.attention_out_bias);
  EXPECT_FALSE(c.mlp_bias);
  EXPECT_EQ(c.torch_dtype, "float32");
  EXPECT_EQ(c.bos_token_id, std::vector<int32_t>({1}));
  EXPECT_EQ(c.eos_token_id, std::vector<int32_t>({2}));
  // 2 * 512*64 (embed + lm_head) + 5 * (12,288 attention + 33,024 MLP + 128 norms) + 64.
  EXPECT_EQ(CountParameters(c), 292'800);
}

TEST(HfConfigGoldenTest, StoriesQwen2) {
  auto r = ReadModelConfig(StoriesConfigPath("qwen2"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ModelConfig& c = *r;
  EXPECT_EQ(c.architecture, Architecture::kQwen2);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.num_hidden_layers, 5);
  EXPECT_EQ(c.num_attention_heads, 8);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_TRUE(c.attention_qkv_bias);
  EXPECT_FALSE(c.attention_out_bias);
  EXPECT_EQ(c.torch_dtype, "float32");
  // 512*64 (tied) + 5 * (12,288 + 128 q/k/v biases + 33,024 + 128) + 64.
  EXPECT_EQ(CountParameters(c), 260'672);
}

TEST(HfConfigGoldenTest, MissingFileIsNotFoundNamingIt) {
  auto r = ReadModelConfig(SharedDataPath("qwen-configs/no-such-model/config.json"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("no-such-model/config.json"), std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace medassist::formats
