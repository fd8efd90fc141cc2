// PEFT LoRA adapter files: WritePeftAdapter writes the config keys and tensor names PEFT's
// save_pretrained writes (asserted against literal PEFT names), ReadPeftAdapter reads them back
// exactly (F32, BF16, F16; names with ".default." kept), and a catalogue of bad adapters, each
// with the refusal it must get.
#include "model/lora_adapter.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>

#include "formats/safetensors_reader.h"
#include "formats/safetensors_writer.h"
#include "kernels/fp16.h"
#include "support/test_support.h"

namespace medassist::model {
namespace {

using formats::SafetensorsDtype;
using nlohmann::json;

std::vector<float> Ramp(size_t n, float start, float step) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + step * static_cast<float>(i);
  return v;
}

// r 2; layer 0 q_proj (8 -> 8), layer 0 down_proj (16 -> 8), layer 1 v_proj (8 -> 4).
LoraAdapter SmallAdapter() {
  LoraAdapter a;
  a.config = {.r = 2,
              .lora_alpha = 16,
              .lora_dropout = 0.05,
              .target_modules = {"q_proj", "v_proj", "down_proj"},
              .base_model_name_or_path = "Qwen/Qwen2.5-0.5B-Instruct"};
  a.matrices.push_back(
      {0, LoraModule::kQProj, 8, 8, Ramp(16, -0.5f, 0.0625f), Ramp(16, 0.25f, -0.03125f)});
  a.matrices.push_back(
      {0, LoraModule::kDownProj, 16, 8, Ramp(32, 0.1f, 0.01f), Ramp(16, -0.2f, 0.015625f)});
  a.matrices.push_back(
      {1, LoraModule::kVProj, 8, 4, Ramp(16, 0.3f, -0.02f), Ramp(8, 0.5f, -0.125f)});
  return a;
}

TEST(LoraScale, AlphaOverROrOverSqrtR) {
  LoraConfig c{.r = 16, .lora_alpha = 32};
  EXPECT_DOUBLE_EQ(LoraScale(c), 2.0);
  c.use_rslora = true;
  EXPECT_DOUBLE_EQ(LoraScale(c), 8.0);
}

TEST(PeftTensorName, IsPeftsSavedName) {
  EXPECT_EQ(PeftTensorName(3, LoraModule::kQProj, 'A'),
            "base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight");
  EXPECT_EQ(PeftTensorName(0, LoraModule::kOProj, 'B'),
            "base_model.model.model.layers.0.self_attn.o_proj.lora_B.weight");
  EXPECT_EQ(PeftTensorName(27, LoraModule::kGateProj, 'A'),
            "base_model.model.model.layers.27.mlp.gate_proj.lora_A.weight");
  EXPECT_EQ(PeftTensorName(1, LoraModule::kDownProj, 'B'),
            "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight");
}

TEST(PeftAdapter, WritesPeftsConfigKeys) {
  medassist::testing::TempDir dir;
  ASSERT_TRUE(WritePeftAdapter(dir.path(), SmallAdapter()).ok());
  const std::string text = medassist::testing::ReadFileOrFail(dir.path() + "/adapter_config.json");
  const json j = json::parse(text);
  EXPECT_EQ(j["peft_type"], "LORA");
  EXPECT_EQ(j["r"], 2);
  EXPECT_EQ(j["lora_alpha"], 16.0);
  EXPECT_EQ(j["lora_dropout"], 0.05);
  EXPECT_EQ(j["target_modules"], json({"q_proj", "v_proj", "down_proj"}));
  EXPECT_EQ(j["base_model_name_or_path"], "Qwen/Qwen2.5-0.5B-Instruct");
  EXPECT_EQ(j["task_type"], "CAUSAL_LM");
  EXPECT_EQ(j["bias"], "none");
  EXPECT_EQ(j["fan_in_fan_out"], false);
  EXPECT_EQ(j["inference_mode"], true);
  EXPECT_EQ(j["use_rslora"], false);
  EXPECT_EQ(j["use_dora"], false);
  EXPECT_TRUE(j["modules_to_save"].is_null());
  EXPECT_TRUE(j["layers_to_transform"].is_null());
  EXPECT_TRUE(j["revision"].is_null());
  EXPECT_EQ(j["rank_pattern"], json::object());
  EXPECT_EQ(j["alpha_pattern"], json::object());
  EXPECT_EQ(j["init_lora_weights"], true);
}

TEST(PeftAdapter, WritesPeftsTensorNamesAndShapes) {
  medassist::testing::TempDir dir;
  ASSERT_TRUE(WritePeftAdapter(dir.path(), SmallAdapter()).ok());
  Result<formats::SafetensorsFile> st =
      formats::SafetensorsFile::Open(dir.path() + "/adapter_model.safetensors");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  std::map<std::string, std::vector<uint64_t>> shapes;
  for (const formats::SafetensorsTensor& t : st->tensors()) {
    EXPECT_EQ(t.dtype, SafetensorsDtype::kF32) << t.name;
    shapes[t.name] = t.shape;
  }
  const std::map<std::string, std::vector<uint64_t>> expected = {
      {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", {2, 8}},
      {"base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", {8, 2}},
      {"base_model.model.model.layers.0.mlp.down_proj.lora_A.weight", {2, 16}},
      {"base_model.model.model.layers.0.mlp.down_proj.lora_B.weight", {8, 2}},
      {"base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight", {2, 8}},
      {"base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight", {4, 2}},
  };
  EXPECT_EQ(shapes, expected);
  EXPECT_EQ(st->metadata().at("format"), "pt");
}

TEST(PeftAdapter, RoundTripsExactlyInF32) {
  medassist::testing::TempDir dir;
  const LoraAdapter a = SmallAdapter();
  ASSERT_TRUE(WritePeftAdapter(dir.path(), a).ok());
  Result<LoraAdapter> b = ReadPeftAdapter(dir.path());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->config.r, 2);
  EXPECT_EQ(b->config.lora_alpha, 16);
  EXPECT_EQ(b->config.lora_dropout, 0.05);
  EXPECT_EQ(b->config.target_modules, a.config.target_modules);
  EXPECT_EQ(b->config.base_model_name_or_path, a.config.base_model_name_or_path);
  EXPECT_EQ(b->config.task_type, "CAUSAL_LM");
  EXPECT_FALSE(b->config.use_rslora);
  ASSERT_EQ(b->matrices.size(), 3u);
  // Sorted by (layer, module): (0, q_proj), (0, down_proj), (1, v_proj): the order written.
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(b->matrices[i].layer, a.matrices[i].layer);
    EXPECT_EQ(b->matrices[i].module, a.matrices[i].module);
    EXPECT_EQ(b->matrices[i].d_in, a.matrices[i].d_in);
    EXPECT_EQ(b->matrices[i].d_out, a.matrices[i].d_out);
    EXPECT_EQ(b->matrices[i].a, a.matrices[i].a);
    EXPECT_EQ(b->matrices[i].b, a.matrices[i].b);
  }
}

TEST(PeftAdapter, RoundTripsInBf16AndKeepsRsLora) {
  medassist::testing::TempDir dir;
  LoraAdapter a = SmallAdapter();
  a.config.use_rslora = true;
  ASSERT_TRUE(WritePeftAdapter(dir.path(), a, SafetensorsDtype::kBF16).ok());
  Result<formats::SafetensorsFile> st =
      formats::SafetensorsFile::Open(dir.path() + "/adapter_model.safetensors");
  ASSERT_TRUE(st.ok());
  for (const formats::SafetensorsTensor& t : st->tensors())
    EXPECT_EQ(t.dtype, SafetensorsDtype::kBF16);
  Result<LoraAdapter> b = ReadPeftAdapter(dir.path());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_TRUE(b->config.use_rslora);
  for (size_t i = 0; i < a.matrices.size(); ++i) {
    for (size_t k = 0; k < a.matrices[i].a.size(); ++k) {
      EXPECT_EQ(b->matrices[i].a[k], kernels::BF16ToF32(kernels::F32ToBF16(a.matrices[i].a[k])));
    }
  }
}

TEST(PeftAdapter, WriteRefusesAnInconsistentAdapter) {
  medassist::testing::TempDir dir;
  LoraAdapter a = SmallAdapter();
  a.matrices[1].a.pop_back();
  Status s = WritePeftAdapter(dir.path(), a);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  a = SmallAdapter();
  a.config.target_modules = {"q_proj"};
  EXPECT_NE(WritePeftAdapter(dir.path(), a).message().find("not in target_modules"),
            std::string::npos);
}

// ---- hand-made adapters: accepted variants and the bad-input catalogue ----

constexpr char kGoodConfig[] = R"({"peft_type": "LORA", "r": 2, "lora_alpha": 4,
  "target_modules": ["q_proj", "v_proj"], "fan_in_fan_out": false, "bias": "none",
  "modules_to_save": null, "use_dora": false, "rank_pattern": {}, "alpha_pattern": {}})";

struct TensorSpec {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::kF32;
  std::vector<uint64_t> shape;
};

std::string Q(char which, const char* adapter_name = nullptr) {
  std::string s = "base_model.model.model.layers.0.self_attn.q_proj.lora_";
  s.push_back(which);
  if (adapter_name != nullptr) s.append(".").append(adapter_name);
  return s + ".weight";
}

void WriteAdapter(const medassist::testing::TempDir& dir, const std::string& config,
                  const std::vector<TensorSpec>& tensors) {
  dir.WriteFile("adapter_config.json", config);
  formats::SafetensorsWriter w;
  for (const TensorSpec& t : tensors) {
    uint64_t n = formats::SafetensorsDtypeSize(t.dtype);
    for (uint64_t d : t.shape) n *= d;
    std::vector<uint8_t> bytes(n, 0);
    // Distinct small values so that F16 / BF16 widening is checked: 0x3c00 is 1.0 in F16.
    if (t.dtype == SafetensorsDtype::kF16) {
      for (size_t i = 0; i + 1 < n; i += 2) bytes[i + 1] = 0x3c;
    }
    w.AddTensor(t.name, t.dtype, t.shape, bytes);
  }
  ASSERT_TRUE(w.WriteToFile(dir.path() + "/adapter_model.safetensors").ok());
}

TEST(PeftAdapter, AcceptsTheAdapterNameKeptInAndF16) {
  medassist::testing::TempDir dir;
  WriteAdapter(dir, kGoodConfig,
               {{Q('A', "default"), SafetensorsDtype::kF16, {2, 8}},
                {Q('B', "default"), SafetensorsDtype::kF16, {8, 2}}});
  Result<LoraAdapter> a = ReadPeftAdapter(dir.path());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_EQ(a->matrices.size(), 1u);
  EXPECT_EQ(a->matrices[0].module, LoraModule::kQProj);
  EXPECT_EQ(a->matrices[0].d_in, 8);
  EXPECT_EQ(a->matrices[0].d_out, 8);
  EXPECT_EQ(a->matrices[0].a[0], 1.0f);
}

TEST(PeftAdapter, AcceptsQualifiedAndAllLinearTargetModules) {
  medassist::testing::TempDir dir;
  WriteAdapter(
      dir, R"({"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules":
    ["self_attn.q_proj"]})",
      {{Q('A'), SafetensorsDtype::kBF16, {2, 8}}, {Q('B'), SafetensorsDtype::kBF16, {8, 2}}});
  Result<LoraAdapter> a = ReadPeftAdapter(dir.path());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->config.target_modules, std::vector<std::string>{"q_proj"});
  dir.WriteFile(
      "adapter_config.json",
      R"({"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": "all-linear"})");
  a = ReadPeftAdapter(dir.path());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->config.target_modules.size(), 7u);
}

struct BadAdapter {
  const char* name;
  std::string config;  // "" : no adapter_config.json
  std::vector<TensorSpec> tensors;
  bool write_weights;
  StatusCode code;
  std::string file;      // the file the message must name
  std::string expected;  // and a part of the message
};

// kGoodConfig with key set to value.
std::string WithKey(const char* key, const json& value) {
  json j = json::parse(kGoodConfig);
  j[key] = value;
  return j.dump();
}

std::vector<BadAdapter> BadAdapters() {
  const std::vector<TensorSpec> good = {{Q('A'), SafetensorsDtype::kF32, {2, 8}},
                                        {Q('B'), SafetensorsDtype::kF32, {8, 2}}};
  const std::string cfg = "adapter_config.json";
  const std::string st = "adapter_model.safetensors";
  using enum StatusCode;
  return {
      {"NoConfig", "", good, true, kNotFound, cfg, "PEFT adapter folder"},
      {"NoWeights", kGoodConfig, good, false, kNotFound, st, "not found"},
      {"NotJson", "{\"peft_type\": ", good, true, kDataLoss, cfg, "invalid JSON"},
      {"NotLora", R"({"peft_type": "PREFIX_TUNING", "r": 2, "lora_alpha": 4,
        "target_modules": ["q_proj"]})",
       good, true, kInvalidArgument, "adapter_config.json", "not \"LORA\""},
      {"NoR", R"({"peft_type": "LORA", "lora_alpha": 4, "target_modules": ["q_proj"]})", good, true,
       kInvalidArgument, cfg, "r must be an integer"},
      {"ZeroR", WithKey("r", json::parse(R"(0)")), good, true, kInvalidArgument,
       "adapter_config.json", "r must be an integer"},
      {"FanInFanOut", WithKey("fan_in_fan_out", json::parse(R"(true)")), good, true,
       kInvalidArgument, cfg, "fan_in_fan_out"},
      {"Dora", WithKey("use_dora", json::parse(R"(true)")), good, true, kInvalidArgument,
       "adapter_config.json", "DoRA"},
      {"TrainedBias", WithKey("bias", json::parse(R"("lora_only")")), good, true, kInvalidArgument,
       cfg, "bias"},
      {"ModulesToSave", WithKey("modules_to_save", json::parse(R"(["lm_head"])")), good, true,
       kInvalidArgument, cfg, "modules_to_save"},
      {"RankPattern", WithKey("rank_pattern", json::parse(R"({"q_proj": 8})")), good, true,
       kInvalidArgument, cfg, "rank_pattern"},
      {"EmbedTokensTarget", WithKey("target_modules", json::parse(R"(["q_proj", "embed_tokens"])")),
       good, true, kInvalidArgument, cfg, "LoRA on embed_tokens is not supported"},
      {"LmHeadTarget", WithKey("target_modules", json::parse(R"(["lm_head"])")), good, true,
       kInvalidArgument, cfg, "LoRA on lm_head is not supported"},
      {"UnknownTarget", WithKey("target_modules", json::parse(R"(["c_attn"])")), good, true,
       kInvalidArgument, cfg, "unknown target module 'c_attn'"},
      {"RegexTarget", WithKey("target_modules", json::parse(R"(".*proj")")), good, true,
       kInvalidArgument, cfg, "regular expression"},
      {"LmHeadTensor",
       kGoodConfig,
       {{"base_model.model.lm_head.lora_A.weight", SafetensorsDtype::kF32, {2, 8}}},
       true,
       kInvalidArgument,
       st,
       "LoRA on lm_head is not supported"},
      {"UnknownTensor",
       kGoodConfig,
       {{"base_model.model.model.layers.0.self_attn.rotary.lora_A.weight",
         SafetensorsDtype::kF32,
         {2, 8}}},
       true,
       kDataLoss,
       st,
       "is not a LoRA tensor"},
      {"BadLayerIndex",
       kGoodConfig,
       {{"base_model.model.model.layers.x.self_attn.q_proj.lora_A.weight",
         SafetensorsDtype::kF32,
         {2, 8}}},
       true,
       kDataLoss,
       st,
       "is not a LoRA tensor"},
      {"MlpModuleUnderAttention",
       WithKey("target_modules", json::parse(R"(["up_proj"])")),
       {{"base_model.model.model.layers.0.self_attn.up_proj.lora_A.weight",
         SafetensorsDtype::kF32,
         {2, 8}}},
       true,
       kDataLoss,
       st,
       "is not a LoRA tensor"},
      {"LoraBias",
       kGoodConfig,
       {{Q('A'), SafetensorsDtype::kF32, {2, 8}},
        {"base_model.model.model.layers.0.self_attn.q_proj.lora_B.bias",
         SafetensorsDtype::kF32,
         {8}}},
       true,
       kDataLoss,
       st,
       "no biases"},
      {"NotInTargetModules",
       kGoodConfig,
       {{"base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight",
         SafetensorsDtype::kF32,
         {2, 8}}},
       true,
       kDataLoss,
       st,
       "which target_modules in adapter_config.json does not list"},
      {"AWithoutB",
       kGoodConfig,
       {{Q('A'), SafetensorsDtype::kF32, {2, 8}}},
       true,
       kDataLoss,
       st,
       "has no '" + Q('B') + "'"},
      {"BWithoutA",
       kGoodConfig,
       {{Q('B'), SafetensorsDtype::kF32, {8, 2}}},
       true,
       kDataLoss,
       st,
       "has no '" + Q('A') + "'"},
      {"AShapeDisagreesWithR",
       kGoodConfig,
       {{Q('A'), SafetensorsDtype::kF32, {3, 8}}, {Q('B'), SafetensorsDtype::kF32, {8, 3}}},
       true,
       kDataLoss,
       st,
       "has shape [3, 8], expected [r=2, d_in]"},
      {"BShapeDisagreesWithR",
       kGoodConfig,
       {{Q('A'), SafetensorsDtype::kF32, {2, 8}}, {Q('B'), SafetensorsDtype::kF32, {2, 8}}},
       true,
       kDataLoss,
       st,
       "has shape [2, 8], expected [d_out, r=2]"},
      {"OneDimensional",
       kGoodConfig,
       {{Q('A'), SafetensorsDtype::kF32, {16}}, {Q('B'), SafetensorsDtype::kF32, {8, 2}}},
       true,
       kDataLoss,
       st,
       "has shape [16]"},
      {"F64",
       kGoodConfig,
       {{Q('A'), SafetensorsDtype::kF64, {2, 8}}, {Q('B'), SafetensorsDtype::kF32, {8, 2}}},
       true,
       kDataLoss,
       st,
       "element type F64 is not supported"},
      {"I32",
       kGoodConfig,
       {{Q('A'), SafetensorsDtype::kF32, {2, 8}}, {Q('B'), SafetensorsDtype::kI32, {8, 2}}},
       true,
       kDataLoss,
       st,
       "element type I32 is not supported"},
      {"SameMatrixTwice",
       kGoodConfig,
       {{Q('A'), SafetensorsDtype::kF32, {2, 8}},
        {Q('A', "default"), SafetensorsDtype::kF32, {2, 8}},
        {Q('B'), SafetensorsDtype::kF32, {8, 2}}},
       true,
       kDataLoss,
       st,
       "are the same matrix"},
      {"NoTensors", kGoodConfig, {}, true, kDataLoss, st, "holds no LoRA tensors"},
  };
}

class PeftAdapterBadInput : public ::testing::TestWithParam<BadAdapter> {};

TEST_P(PeftAdapterBadInput, IsRefusedWithTheExpectedError) {
  const BadAdapter& c = GetParam();
  medassist::testing::TempDir dir;
  WriteAdapter(dir, c.config.empty() ? "{}" : c.config, c.tensors);
  if (c.config.empty()) std::filesystem::remove(dir.path() + "/adapter_config.json");
  if (!c.write_weights) std::filesystem::remove(dir.path() + "/adapter_model.safetensors");
  Result<LoraAdapter> r = ReadPeftAdapter(dir.path());
  ASSERT_FALSE(r.ok()) << c.name << " was accepted";
  EXPECT_EQ(r.status().code(), c.code) << r.status().ToString();
  const std::string& m = r.status().message();
  EXPECT_NE(m.find(dir.path() + "/" + c.file), std::string::npos) << "must name the file: " << m;
  EXPECT_NE(m.find(c.expected), std::string::npos)
      << "case " << c.name << "\n  message:  " << m << "\n  expected: " << c.expected;
}

INSTANTIATE_TEST_SUITE_P(Catalogue, PeftAdapterBadInput, ::testing::ValuesIn(BadAdapters()),
                         [](const ::testing::TestParamInfo<BadAdapter>& p) {
                           return p.param.name;
                         });

TEST(PeftAdapter, MissingFolderAndPickleWeightsAreExplained) {
  Result<LoraAdapter> r = ReadPeftAdapter("/nonexistent/adapter");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/adapter: LoRA adapter folder not found"),
            std::string::npos);
  medassist::testing::TempDir dir;
  dir.WriteFile("adapter_config.json", kGoodConfig);
  dir.WriteFile("adapter_model.bin", "pickle");
  r = ReadPeftAdapter(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("safe_serialization=True"), std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace medassist::model
