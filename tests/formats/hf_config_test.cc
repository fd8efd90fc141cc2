// config.json / generation_config.json parsing: defaults, and a catalogue of bad configs built
// here, each with the StatusCode and the message (file, field, problem) it must be refused with.
#include "formats/hf_config.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace medassist::formats {
namespace {

using nlohmann::json;

constexpr char kSource[] = "bad/config.json";

// A valid Qwen2.5-style config (use_sliding_window false with sliding_window set).
json Qwen2Base() {
  return json::parse(R"({
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
    "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 2,
    "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936,
    "max_position_embeddings": 32768, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
    "hidden_act": "silu", "tie_word_embeddings": true, "torch_dtype": "bfloat16",
    "bos_token_id": 151643, "eos_token_id": 151645, "use_sliding_window": false,
    "sliding_window": 32768, "max_window_layers": 21, "rope_scaling": null,
    "attention_dropout": 0.0, "initializer_range": 0.02, "use_cache": true
  })");
}

// A minimal Llama config leaning on HF's defaults.
json LlamaBase() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 5,
    "num_attention_heads": 8, "vocab_size": 512, "max_position_embeddings": 512,
    "rms_norm_eps": 1e-05
  })");
}

Result<ModelConfig> Parse(const json& j) { return ParseModelConfig(j.dump(), kSource); }

TEST(HfConfigTest, Qwen2DefaultsAndSlidingWindowOff) {
  auto r = Parse(Qwen2Base());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->architecture, Architecture::kQwen2);
  EXPECT_EQ(r->head_dim, 64);
  EXPECT_TRUE(r->attention_qkv_bias);
  EXPECT_FALSE(r->attention_out_bias);
  EXPECT_FALSE(r->mlp_bias);
  EXPECT_EQ(r->eos_token_id, std::vector<int32_t>({151645}));
}

TEST(HfConfigTest, LlamaDefaults) {
  auto r = Parse(LlamaBase());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->architecture, Architecture::kLlama);
  EXPECT_EQ(r->num_key_value_heads, 8);  // = num_attention_heads
  EXPECT_EQ(r->head_dim, 8);             // = hidden_size / num_attention_heads
  EXPECT_EQ(r->rope_theta, 10000.0);
  EXPECT_FALSE(r->tie_word_embeddings);
  EXPECT_FALSE(r->attention_qkv_bias);
  EXPECT_FALSE(r->mlp_bias);
  EXPECT_EQ(r->torch_dtype, "");
  EXPECT_TRUE(r->bos_token_id.empty());
  EXPECT_TRUE(r->eos_token_id.empty());
  // 2 * 512*64 + 5 * (4 * 64*64 + 3 * 172*64 + 2*64) + 64.
  EXPECT_EQ(CountParameters(*r), 65'536 + 5 * (16'384 + 33'024 + 128) + 64);
}

TEST(HfConfigTest, LlamaExplicitHeadDimBiasesAndEosList) {
  json j = LlamaBase();
  j["hidden_size"] = 60;  // not divisible by 8 heads: fine, head_dim is explicit
  j["head_dim"] = 16;
  j["num_key_value_heads"] = 2;
  j["attention_bias"] = true;
  j["mlp_bias"] = true;
  j["eos_token_id"] = {2, 3};
  j["bos_token_id"] = nullptr;  // null is "unset"
  j["dtype"] = "float16";       // newer transformers spell torch_dtype "dtype"
  j["rope_scaling"] = {{"type", "default"}};
  auto r = Parse(j);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->head_dim, 16);
  EXPECT_EQ(r->q_dim(), 128);
  EXPECT_EQ(r->kv_dim(), 32);
  EXPECT_TRUE(r->attention_qkv_bias);
  EXPECT_TRUE(r->attention_out_bias);
  EXPECT_TRUE(r->mlp_bias);
  EXPECT_EQ(r->eos_token_id, std::vector<int32_t>({2, 3}));
  EXPECT_TRUE(r->bos_token_id.empty());
  EXPECT_EQ(r->torch_dtype, "float16");
  // Per layer: q 60*128+128, k and v 60*32+32 each, o 128*60+60, MLP 3*172*60 + 2*172 + 60,
  // norms 2*60; plus embed and lm_head 2*512*60 and the final norm 60.
  const int64_t layer = (7'680 + 128) + 2 * (1'920 + 32) + (7'680 + 60) + (30'960 + 344 + 60) + 120;
  EXPECT_EQ(CountParameters(*r), 61'440 + 5 * layer + 60);
  EXPECT_NE(DescribeModelConfig(*r).find("qkvo bias, mlp bias, untied lm_head, float16"),
            std::string::npos)
      << DescribeModelConfig(*r);
}

struct BadCase {
  std::string name;
  std::function<void(json&)> mutate;
  StatusCode code;
  std::string message;  // expected substring
};

void ExpectRefused(const BadCase& c, const Status& s) {
  SCOPED_TRACE(c.name);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), c.code) << s.ToString();
  EXPECT_NE(s.message().find(c.message), std::string::npos)
      << "message: " << s.message() << "\nexpected to contain: " << c.message;
}

std::function<void(json&)> Set(const std::string& key, const json& value) {
  return [key, value](json& j) { j[key] = value; };
}
std::function<void(json&)> Erase(const std::string& key) {
  return [key](json& j) { j.erase(key); };
}

const std::string kF = std::string(kSource) + ": field ";

TEST(HfConfigTest, BadModelConfigs) {
  const StatusCode kData = StatusCode::kDataLoss;
  const StatusCode kBig = StatusCode::kResourceExhausted;
  const StatusCode kUnimpl = StatusCode::kUnimplemented;
  const std::vector<BadCase> cases = {
      {"missing hidden_size", Erase("hidden_size"), kData,
       std::string(kSource) + ": missing field 'hidden_size'"},
      {"missing vocab_size", Erase("vocab_size"), kData, "missing field 'vocab_size'"},
      {"missing rms_norm_eps", Erase("rms_norm_eps"), kData, "missing field 'rms_norm_eps'"},
      {"missing architectures", Erase("architectures"), kData, "missing field 'architectures'"},
      {"missing model_type", Erase("model_type"), kData, "missing field 'model_type'"},
      {"string size", Set("hidden_size", "896"), kData,
       kF + "'hidden_size' must be an integer, got string \"896\""},
      {"float size", Set("num_hidden_layers", 2.5), kData,
       kF + "'num_hidden_layers' must be an integer, got number 2.5"},
      {"bool size", Set("intermediate_size", true), kData,
       kF + "'intermediate_size' must be an integer, got boolean true"},
      {"null size", Set("hidden_size", nullptr), kData,
       kF + "'hidden_size' must be an integer, got null"},
      {"zero size", Set("hidden_size", 0), kData, kF + "'hidden_size' must be positive, got 0"},
      {"negative size", Set("num_attention_heads", -14), kData,
       kF + "'num_attention_heads' must be positive, got -14"},
      {"zero kv heads", Set("num_key_value_heads", 0), kData,
       kF + "'num_key_value_heads' must be positive, got 0"},
      {"absurd hidden", Set("hidden_size", 1 << 21), kBig,
       kF + "'hidden_size' is 2097152, over the limit of 1048576"},
      {"absurd vocab", Set("vocab_size", 1 << 25), kBig,
       kF + "'vocab_size' is 33554432, over the limit of 16777216"},
      {"absurd layers", Set("num_hidden_layers", 100000), kBig,
       kF + "'num_hidden_layers' is 100000, over the limit of 4096"},
      {"uint64 vocab", Set("vocab_size", UINT64_MAX), kBig,
       kF + "'vocab_size' is 18446744073709551615, over the limit of 16777216"},
      {"huge head_dim", Set("head_dim", 1 << 20), kBig,
       kF + "'head_dim' is 1048576, over the limit of 4096"},
      {"hidden not divisible", Set("hidden_size", 900), kData,
       kF + "'hidden_size' 900 is not divisible by num_attention_heads 14 (and no head_dim"},
      {"heads not divisible by kv", Set("num_key_value_heads", 3), kData,
       kF + "'num_attention_heads' 14 is not divisible by num_key_value_heads 3"},
      {"odd head_dim", Set("head_dim", 63), kData, kF + "'head_dim' must be even for RoPE, got 63"},
      {"zero eps", Set("rms_norm_eps", 0), kData, kF + "'rms_norm_eps' must be positive, got 0"},
      {"negative eps", Set("rms_norm_eps", -1e-6), kData,
       kF + "'rms_norm_eps' must be positive, got -1e-06"},
      {"string eps", Set("rms_norm_eps", "1e-6"), kData,
       kF + "'rms_norm_eps' must be a number, got string \"1e-6\""},
      {"zero theta", Set("rope_theta", 0), kData, kF + "'rope_theta' must be positive, got 0"},
      {"negative theta", Set("rope_theta", -10000.0), kData,
       kF + "'rope_theta' must be positive, got -10000"},
      {"mistral", Set("architectures", {"MistralForCausalLM"}), kUnimpl,
       std::string(kSource) + ": architecture 'MistralForCausalLM' is not supported (supported: "
                              "Qwen2ForCausalLM, LlamaForCausalLM)"},
      {"architectures not a list", Set("architectures", "Qwen2ForCausalLM"), kData,
       kF + "'architectures' must be a list of architecture names, got string"},
      {"architectures empty", Set("architectures", json::array()), kData,
       kF + "'architectures' must be a list of architecture names, got array"},
      {"model_type mismatch", Set("model_type", "llama"), kData,
       kF + "'model_type' is 'llama' but architectures names Qwen2ForCausalLM (expected 'qwen2')"},
      {"gelu", Set("hidden_act", "gelu"), kUnimpl,
       std::string(kSource) + ": hidden_act 'gelu' is not supported (only 'silu')"},
      {"sliding window on", Set("use_sliding_window", true), kUnimpl,
       std::string(kSource) + ": use_sliding_window is true: sliding-window attention"},
      {"sliding window string", Set("use_sliding_window", "false"), kData,
       kF + "'use_sliding_window' must be true or false, got string \"false\""},
      {"yarn", Set("rope_scaling", {{"type", "yarn"}, {"factor", 4.0}}), kUnimpl,
       std::string(kSource) + ": rope_scaling type 'yarn' is not supported"},
      {"llama3 rope", Set("rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}}), kUnimpl,
       "rope_scaling type 'llama3' is not supported"},
      {"rope_scaling string", Set("rope_scaling", "linear"), kData,
       kF + "'rope_scaling' must be an object or null, got string \"linear\""},
      {"rope_scaling untyped", Set("rope_scaling", {{"factor", 2.0}}), kData,
       kF + "'rope_scaling' must name its 'rope_type' (or 'type') as a string"},
      {"eos outside vocab", Set("eos_token_id", 151936), kData,
       kF + "'eos_token_id' has token id 151936, outside vocab_size 151936"},
      {"bos outside vocab", Set("bos_token_id", {1, 200000}), kData,
       kF + "'bos_token_id' has token id 200000, outside vocab_size 151936"},
      {"eos string in list", Set("eos_token_id", {1, "2"}), kData,
       kF + "'eos_token_id' must be a token id or a list of token ids, got string \"2\""},
      {"negative eos", Set("eos_token_id", -1), kData,
       kF + "'eos_token_id' must be in [0, 2147483647], got -1"},
      {"tie string", Set("tie_word_embeddings", "true"), kData,
       kF + "'tie_word_embeddings' must be true or false, got string \"true\""},
      {"dtype number", Set("torch_dtype", 16), kData,
       kF + "'torch_dtype' must be a string, got number 16"},
  };
  for (const BadCase& c : cases) {
    json j = Qwen2Base();
    c.mutate(j);
    ExpectRefused(c, Parse(j).status());
  }
}

TEST(HfConfigTest, LlamaSpecificRefusals) {
  const std::vector<BadCase> cases = {
      {"attention_bias string", Set("attention_bias", "no"), StatusCode::kDataLoss,
       kF + "'attention_bias' must be true or false, got string \"no\""},
      {"mlp_bias number", Set("mlp_bias", 0), StatusCode::kDataLoss,
       kF + "'mlp_bias' must be true or false, got number 0"},
      {"model_type qwen2", Set("model_type", "qwen2"), StatusCode::kDataLoss,
       kF + "'model_type' is 'qwen2' but architectures names LlamaForCausalLM"},
  };
  for (const BadCase& c : cases) {
    json j = LlamaBase();
    c.mutate(j);
    ExpectRefused(c, Parse(j).status());
  }
}

TEST(HfConfigTest, NotAnObjectOrNotJson) {
  auto array = ParseModelConfig("[1, 2]", kSource);
  ASSERT_FALSE(array.ok());
  EXPECT_EQ(array.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(array.status().message(), std::string(kSource) + ": expected a JSON object, got array");
  auto broken = ParseModelConfig(R"({"hidden_size": 8)", kSource);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find(std::string(kSource) + ": invalid JSON at byte"),
            std::string::npos);
  auto deep = ParseModelConfig(std::string(100000, '['), kSource);
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.status().message().find("nested deeper than"), std::string::npos);
  auto gen = ParseGenerationConfig("\"temperature\"", kSource);
  ASSERT_FALSE(gen.ok());
  EXPECT_EQ(gen.status().message(), std::string(kSource) + ": expected a JSON object, got string");
}

TEST(HfConfigTest, ReadsFromDisk) {
  medassist::testing::TempDir dir;
  std::string path = dir.WriteFile("config.json", LlamaBase().dump());
  auto r = ReadModelConfig(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->hidden_size, 64);
  std::string bad = dir.WriteFile("bad.json", R"({"architectures": ["GPT2LMHeadModel"]})");
  auto refused = ReadModelConfig(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            bad +
                ": architecture 'GPT2LMHeadModel' is not supported (supported: "
                "Qwen2ForCausalLM, LlamaForCausalLM)");
  std::string gen = dir.WriteFile("generation_config.json", R"({"top_k": "20"})");
  auto gen_refused = ReadGenerationConfig(gen);
  ASSERT_FALSE(gen_refused.ok());
  EXPECT_EQ(gen_refused.status().message(),
            gen + ": field 'top_k' must be an integer, got string \"20\"");
}

TEST(HfConfigTest, GenerationConfigOptionalAndUnknownFields) {
  auto empty = ParseGenerationConfig("{}", kSource);
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_FALSE(empty->do_sample.has_value());
  EXPECT_FALSE(empty->temperature.has_value());
  EXPECT_FALSE(empty->top_k.has_value());
  EXPECT_TRUE(empty->eos_token_id.empty());
  auto r = ParseGenerationConfig(
      R"({"do_sample": false, "temperature": 0, "max_new_tokens": 512, "eos_token_id": 2,
          "top_p": null, "pad_token_id": null, "max_length": 32768, "transformers_version": "4"})",
      kSource);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->do_sample, std::optional<bool>(false));
  EXPECT_EQ(r->temperature, std::optional<float>(0.0f));
  EXPECT_EQ(r->max_new_tokens, std::optional<int32_t>(512));
  EXPECT_EQ(r->eos_token_id, std::vector<int32_t>({2}));
  EXPECT_FALSE(r->top_p.has_value());
  EXPECT_FALSE(r->pad_token_id.has_value());
}

TEST(HfConfigTest, BadGenerationConfigs) {
  const StatusCode kData = StatusCode::kDataLoss;
  const std::vector<BadCase> cases = {
      {"string temperature", Set("temperature", "0.7"), kData,
       kF + "'temperature' must be a number, got string \"0.7\""},
      {"negative temperature", Set("temperature", -1), kData,
       kF + "'temperature' must be >= 0, got -1"},
      {"top_p over 1", Set("top_p", 1.5), kData, kF + "'top_p' must be in [0, 1], got 1.5"},
      {"float top_k", Set("top_k", 20.5), kData,
       kF + "'top_k' must be an integer, got number 20.5"},
      {"negative top_k", Set("top_k", -1), kData,
       kF + "'top_k' must be in [0, 2147483647], got -1"},
      {"huge top_k", Set("top_k", int64_t{1} << 40), kData,
       kF + "'top_k' must be in [0, 2147483647], got 1099511627776"},
      {"zero repetition penalty", Set("repetition_penalty", 0), kData,
       kF + "'repetition_penalty' must be positive, got 0"},
      {"zero max_new_tokens", Set("max_new_tokens", 0), kData,
       kF + "'max_new_tokens' must be in [1, 2147483647], got 0"},
      {"string do_sample", Set("do_sample", "yes"), kData,
       kF + "'do_sample' must be true or false, got string \"yes\""},
      {"string eos", Set("eos_token_id", "2"), kData,
       kF + "'eos_token_id' must be a token id or a list of token ids, got string \"2\""},
      {"float eos in list", Set("eos_token_id", {151645, 2.5}), kData,
       kF + "'eos_token_id' must be a token id or a list of token ids, got number 2.5"},
      {"negative pad", Set("pad_token_id", -1), kData,
       kF + "'pad_token_id' must be in [0, 2147483647], got -1"},
      {"bool bos", Set("bos_token_id", false), kData,
       kF + "'bos_token_id' must be an integer, got boolean false"},
  };
  for (const BadCase& c : cases) {
    json j = json::object();
    c.mutate(j);
    ExpectRefused(c, ParseGenerationConfig(j.dump(), kSource).status());
  }
}

}  // namespace
}  // namespace medassist::formats
