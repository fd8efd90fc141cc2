// synth-model on the tiny stories260K-hf-qwen2 config: every tensor of the layout with the right
// shape and dtype, sane values, byte-identical output for one seed, and refusals that leave
// nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "formats/safetensors_model.h"
#include "kernels/fp16.h"
#include "model/synth_model.h"
#include "model/synth_weights.h"
#include "model/weight_layout.h"
#include "support/test_support.h"

namespace medassist::model {
namespace {

namespace fs = std::filesystem;
using formats::SafetensorsDtype;
using medassist::testing::ReadFileOrFail;
using medassist::testing::SharedDataPath;
using medassist::testing::TempDir;

std::string TinyConfig() {
  return SharedDataPath("tiny-models/stories260K/stories260K-hf-qwen2/config.json");
}

SynthModelOptions Options(const std::string& out, uint64_t seed,
                          SafetensorsDtype dtype = SafetensorsDtype::kBF16) {
  return {.config_path = TinyConfig(),
          .out_dir = out,
          .tokenizer_dir = MEDASSIST_TOKENIZER_ASSETS_DIR,
          .dtype = dtype,
          .seed = seed};
}

float Bf16ToFloat(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  const uint32_t bits = uint32_t{h} << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::vector<float> Values(const formats::SafetensorsTensor& t) {
  std::vector<float> out(t.n_elements);
  for (size_t i = 0; i < out.size(); ++i) out[i] = Bf16ToFloat(t.data.data() + 2 * i);
  return out;
}

void MeanStd(const std::vector<float>& v, double* mean, double* std) {
  double s = 0, s2 = 0;
  for (float x : v) s += x;
  *mean = s / static_cast<double>(v.size());
  for (float x : v) s2 += (x - *mean) * (x - *mean);
  *std = std::sqrt(s2 / static_cast<double>(v.size()));
}

TEST(SynthModel, WritesEveryTensorOfTheLayoutWithSaneValues) {
  TempDir dir;
  const std::string out = dir.path() + "/tiny";
  Result<SynthModelSummary> s = SynthModelFolder(Options(out, 1));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  Result<formats::SafetensorsModel> m = formats::SafetensorsModel::OpenFolder(out);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const std::vector<WeightSpec> layout = HfWeightLayout(s->config);
  EXPECT_EQ(m->n_tensors(), layout.size());
  EXPECT_EQ(s->n_tensors, layout.size());
  EXPECT_EQ(m->files().at(0).metadata().at("format"), "pt");
  for (const WeightSpec& w : layout) {
    const formats::SafetensorsTensor* t = m->Find(w.name);
    ASSERT_NE(t, nullptr) << w.name;
    EXPECT_EQ(t->shape, w.shape) << w.name;
    EXPECT_EQ(t->dtype, SafetensorsDtype::kBF16) << w.name;
    double mean, std;
    MeanStd(Values(*t), &mean, &std);
    if (w.init == WeightSpec::Init::kOnes) {
      EXPECT_NEAR(mean, 1.0, 0.01) << w.name;
      for (float x : Values(*t)) EXPECT_NEAR(x, 1.0, 0.15) << w.name;
    } else if (w.init == WeightSpec::Init::kBias) {
      size_t zeros = 0;
      for (float x : Values(*t)) zeros += x == 0.0f;
      EXPECT_EQ(zeros, 0u) << w.name;
      EXPECT_GT(std, 0.005) << w.name;
    }
  }
  EXPECT_NE(m->Find("model.layers.4.self_attn.v_proj.bias"), nullptr);  // Qwen2: qkv biases
  double mean, std;
  MeanStd(Values(*m->Find("model.embed_tokens.weight")), &mean, &std);  // 512 x 64
  EXPECT_NEAR(mean, 0.0, 0.001);
  EXPECT_NEAR(std, 0.02, 0.0005);
  // The config is copied byte for byte; the tiny folder has no generation_config.json.
  EXPECT_EQ(ReadFileOrFail(out + "/config.json"), ReadFileOrFail(TinyConfig()));
  EXPECT_FALSE(fs::exists(out + "/generation_config.json"));
  for (const char* name : {"vocab.json", "merges.txt", "tokenizer_config.json"}) {
    EXPECT_EQ(ReadFileOrFail(out + "/" + name),
              ReadFileOrFail(std::string(MEDASSIST_TOKENIZER_ASSETS_DIR) + "/" + name));
  }
}

TEST(SynthModel, SameSeedSameBytesOtherSeedOtherBytes) {
  TempDir dir;
  for (auto [name, seed] : {std::pair{"a", 7}, {"b", 7}, {"c", 8}}) {
    ASSERT_TRUE(SynthModelFolder(Options(dir.path() + "/" + name, seed)).ok()) << name;
  }
  const std::string a = ReadFileOrFail(dir.path() + "/a/model.safetensors");
  EXPECT_EQ(a, ReadFileOrFail(dir.path() + "/b/model.safetensors"));
  const std::string c = ReadFileOrFail(dir.path() + "/c/model.safetensors");
  EXPECT_EQ(a.size(), c.size());
  EXPECT_NE(a, c);
}

TEST(SynthModel, F32IsTwiceTheDataOfBf16AndRoundsToIt) {
  TempDir dir;
  Result<SynthModelSummary> bf = SynthModelFolder(Options(dir.path() + "/bf", 3));
  Result<SynthModelSummary> f32 =
      SynthModelFolder(Options(dir.path() + "/f32", 3, SafetensorsDtype::kF32));
  ASSERT_TRUE(bf.ok() && f32.ok());
  Result<formats::SafetensorsModel> mb = formats::SafetensorsModel::OpenFolder(dir.path() + "/bf");
  Result<formats::SafetensorsModel> mf = formats::SafetensorsModel::OpenFolder(dir.path() + "/f32");
  ASSERT_TRUE(mb.ok() && mf.ok());
  const uint64_t data_bf = bf->weight_bytes - mb->files()[0].data_offset();
  const uint64_t data_f32 = f32->weight_bytes - mf->files()[0].data_offset();
  EXPECT_EQ(data_bf, 2 * static_cast<uint64_t>(bf->n_params));
  EXPECT_EQ(data_f32, 2 * data_bf);
  EXPECT_EQ(fs::file_size(dir.path() + "/f32/model.safetensors"), f32->weight_bytes);
  // The BF16 file holds the F32 values rounded to nearest even.
  const formats::SafetensorsTensor* tb = mb->Find("model.layers.2.mlp.down_proj.weight");
  const formats::SafetensorsTensor* tf = mf->Find("model.layers.2.mlp.down_proj.weight");
  ASSERT_TRUE(tb != nullptr && tf != nullptr);
  EXPECT_EQ(tf->dtype, SafetensorsDtype::kF32);
  for (uint64_t i = 0; i < tf->n_elements; ++i) {
    float f;
    uint16_t h;
    std::memcpy(&f, tf->data.data() + 4 * i, 4);
    std::memcpy(&h, tb->data.data() + 2 * i, 2);
    ASSERT_EQ(kernels::F32ToBF16(f), h) << i;
  }
}

TEST(SynthModel, ValuesDoNotDependOnChunking) {
  std::vector<float> whole(1000), parts(1000);
  FillSynthValues(WeightSpec::Init::kNormal, 5, 3, 0, whole);
  FillSynthValues(WeightSpec::Init::kNormal, 5, 3, 0, std::span<float>(parts).first(333));
  FillSynthValues(WeightSpec::Init::kNormal, 5, 3, 333, std::span<float>(parts).subspan(333));
  EXPECT_EQ(whole, parts);
  std::vector<float> other(1000);
  FillSynthValues(WeightSpec::Init::kNormal, 5, 4, 0, other);  // another tensor
  EXPECT_NE(whole, other);
}

TEST(SynthModel, Bf16RoundsToNearestEven) {
  EXPECT_EQ(kernels::F32ToBF16(1.0f), 0x3F80);
  EXPECT_EQ(kernels::F32ToBF16(-2.0f), 0xC000);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
  EXPECT_EQ(kernels::F32ToBF16(1.0f + 0x1p-8f), 0x3F80);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
  EXPECT_EQ(kernels::F32ToBF16(1.0f + 3 * 0x1p-8f), 0x3F82);
  EXPECT_EQ(kernels::F32ToBF16(1.0f + 0x1p-8f + 0x1p-20f), 0x3F81);  // above halfway rounds up
  EXPECT_TRUE(std::isnan(Bf16ToFloat(reinterpret_cast<const uint8_t*>(
      std::array<uint16_t, 1>{kernels::F32ToBF16(std::nanf(""))}.data()))));
}

TEST(SynthModel, RefusalsLeaveNothingBehind) {
  TempDir dir;
  // Missing and invalid configs: the parser's message.
  SynthModelOptions o = Options(dir.path() + "/out", 0);
  o.config_path = dir.path() + "/missing.json";
  Result<SynthModelSummary> missing = SynthModelFolder(o);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("missing.json"), std::string::npos);
  o.config_path = dir.WriteFile("bad.json", R"({"architectures": ["GPT2LMHeadModel"]})");
  Result<SynthModelSummary> bad = SynthModelFolder(o);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.json"), std::string::npos) << bad.status().ToString();
  // An existing, non-empty folder is refused and left untouched.
  fs::create_directory(dir.path() + "/full");
  dir.WriteFile("full/keep.txt", "x");
  Result<SynthModelSummary> full = SynthModelFolder(Options(dir.path() + "/full", 0));
  EXPECT_EQ(full.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(full.status().message().find("not empty"), std::string::npos);
  EXPECT_EQ(ReadFileOrFail(dir.path() + "/full/keep.txt"), "x");
  // A folder that cannot be made (its parent is a file).
  Result<SynthModelSummary> under_file =
      SynthModelFolder(Options(dir.path() + "/full/keep.txt/out", 0));
  EXPECT_EQ(under_file.status().code(), StatusCode::kIoError) << under_file.status().ToString();
  // A missing tokenizer file.
  SynthModelOptions no_tok = Options(dir.path() + "/out", 0);
  no_tok.tokenizer_dir = dir.path();
  EXPECT_EQ(SynthModelFolder(no_tok).status().code(), StatusCode::kNotFound);
  // Nothing but what the test made is left in the folder (no temporary folders).
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir.path())) left.push_back(e.path().filename());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"bad.json", "full"}));
  // An existing empty folder is fine.
  fs::create_directory(dir.path() + "/empty");
  EXPECT_TRUE(SynthModelFolder(Options(dir.path() + "/empty/", 0)).ok());
  EXPECT_TRUE(fs::exists(dir.path() + "/empty/model.safetensors"));
  EXPECT_EQ(ParseSynthDtype("f16").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace medassist::model
