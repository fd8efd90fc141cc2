// Block-quantised weights end to end: a synthetic Qwen2 exported to Q8_0, Q4_0 and Q4_K_M GGUF by
// export-gguf (Q5_0: exported as F32, every matrix then quantised here), loaded back, and run by
// the fast path (int8 dot products over quantised activations) against the reference path (the same
// weights dequantised, F32 math). Their difference is the activation quantisation only, so it is
// small and the argmax agrees; the fast path stays bit-identical under chunking.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "forward_test_util.h"
#include "kernels/quantize.h"
#include "model/forward.h"
#include "model/gguf_export.h"
#include "model/synth_model.h"
#include "support/test_support.h"

namespace medassist::model {
namespace {

using kernels::WeightFormat;

// Hidden 256 and intermediate 512 so that the 256-element K blocks fit every row.
constexpr char kConfig[] = R"({
  "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
  "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2,
  "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 1024,
  "max_position_embeddings": 256, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6,
  "tie_word_embeddings": true, "hidden_act": "silu", "torch_dtype": "bfloat16"
})";

class QuantizedForward : public ::testing::TestWithParam<const char*> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new medassist::testing::TempDir();
    const std::string config = dir_->WriteFile("config.json", kConfig);
    Result<SynthModelSummary> made =
        SynthModelFolder({.config_path = config,
                          .out_dir = dir_->path() + "/hf",
                          .tokenizer_dir = MEDASSIST_TOKENIZER_ASSETS_DIR,
                          .dtype = formats::SafetensorsDtype::kBF16,
                          .seed = 3});
    ASSERT_TRUE(made.ok()) << made.status().ToString();
  }
  static void TearDownTestSuite() { delete dir_; }

  // The model exported as GetParam() ("q8_0", ...), with the stories tokenizer (512 tokens).
  Model Export() {
    if (std::string(GetParam()) == "q5_0") return ExportQ5_0();
    Result<GgufExportType> type = ParseGgufExportType(GetParam());
    EXPECT_TRUE(type.ok());
    const std::string out = dir_->path() + "/" + GetParam() + ".gguf";
    Result<GgufExportSummary> summary =
        ExportGguf({.model_dir = dir_->path() + "/hf",
                    .out_path = out,
                    .tokenizer_path = medassist::testing::SharedDataPath(
                        "tiny-models/stories260K/stories260K.gguf"),
                    .out_type = *type});
    EXPECT_TRUE(summary.ok()) << summary.status().ToString();
    Result<Model> model = Model::Open(out);
    CHECK(model.ok()) << model.status().ToString();
    return std::move(model.value());
  }

  // export-gguf has no Q5_0 choice (llama.cpp writes Q5_0 in its Q4_K_M files): the F32 export
  // with every matrix (2-D tensor) rewritten as Q5_0 by QuantizeRow, ggml's reference bytes.
  Model ExportQ5_0() {
    const std::string f32 = dir_->path() + "/q5_0-src.gguf";
    Result<GgufExportSummary> summary =
        ExportGguf({.model_dir = dir_->path() + "/hf",
                    .out_path = f32,
                    .tokenizer_path = medassist::testing::SharedDataPath(
                        "tiny-models/stories260K/stories260K.gguf"),
                    .out_type = GgufExportType::kF32});
    EXPECT_TRUE(summary.ok()) << summary.status().ToString();
    Result<formats::GgufFile> src = formats::GgufFile::Open(f32);
    CHECK(src.ok()) << src.status().ToString();
    formats::GgufWriter w;
    for (const formats::GgufKeyValue& kv : src->metadata()) w.AddValue(kv.key, kv.value);
    for (const formats::GgufTensorInfo& t : src->tensors()) {
      if (t.dims.size() != 2) {
        w.AddTensor(t.name, t.type, t.dims, t.data);
        continue;
      }
      CHECK(t.type == formats::GgmlType::kF32);
      const auto cols = static_cast<int64_t>(t.dims[0]), rows = static_cast<int64_t>(t.dims[1]);
      const int64_t row_bytes = kernels::RowBytes(WeightFormat::kQ5_0, cols);
      std::vector<uint8_t> q(static_cast<size_t>(rows * row_bytes));
      const auto* x = reinterpret_cast<const float*>(t.data.data());
      for (int64_t r = 0; r < rows; ++r) {
        kernels::QuantizeRow(WeightFormat::kQ5_0, x + r * cols, cols, &q[r * row_bytes]);
      }
      w.AddTensor(t.name, formats::GgmlType::kQ5_0, t.dims, q);
    }
    const std::string out = dir_->path() + "/q5_0.gguf";
    const Status written = w.WriteToFile(out);
    CHECK(written.ok()) << written.ToString();
    Result<Model> model = Model::Open(out);
    CHECK(model.ok()) << model.status().ToString();
    return std::move(model.value());
  }

  static medassist::testing::TempDir* dir_;
};
medassist::testing::TempDir* QuantizedForward::dir_ = nullptr;

std::vector<float> RunAll(const Model& model, Forward& forward, const std::vector<int32_t>& ids,
                          int32_t chunk) {
  testing::SequenceCache cache =
      testing::MakeSequenceCache(model, static_cast<int32_t>(ids.size()));
  const int64_t vocab = model.config().vocab_size;
  std::vector<float> all;
  for (int32_t start = 0; start < static_cast<int32_t>(ids.size()); start += chunk) {
    const int32_t end = std::min<int32_t>(static_cast<int32_t>(ids.size()), start + chunk);
    Batch batch{{}, {cache.block_table}};
    for (int32_t i = start; i < end; ++i) batch.rows.push_back({0, ids[i], i, true});
    std::vector<float> logits(static_cast<size_t>((end - start) * vocab));
    EXPECT_TRUE(forward.Run(batch, cache.kv, logits).ok());
    all.insert(all.end(), logits.begin(), logits.end());
  }
  return all;
}

TEST_P(QuantizedForward, FastPathAgreesWithDequantisedReference) {
  const Model model = Export();
  const std::string type = GetParam();
  const LayerWeights& l0 = model.weights().layers[0];
  if (type == "q8_0") {
    EXPECT_EQ(l0.wq.type, WeightFormat::kQ8_0);
  }
  if (type == "q4_0") {
    EXPECT_EQ(l0.w_up.type, WeightFormat::kQ4_0);
  }
  if (type == "q5_0") {
    EXPECT_EQ(l0.wq.type, WeightFormat::kQ5_0);
    EXPECT_EQ(l0.w_down.type, WeightFormat::kQ5_0);
    EXPECT_EQ(model.weights().output.type, WeightFormat::kQ5_0);  // tied embedding = output head
  }
  if (type == "q4_k_m") {
    EXPECT_EQ(l0.wq.type, WeightFormat::kQ4_K);
    // llama.cpp's "more bits" layers of 2: layer 1 (i >= 7n/8), not layer 0.
    EXPECT_EQ(l0.wv.type, WeightFormat::kQ4_K);
    EXPECT_EQ(model.weights().layers[1].wv.type, WeightFormat::kQ6_K);
    EXPECT_EQ(model.weights().layers[1].w_down.type, WeightFormat::kQ6_K);
    EXPECT_EQ(model.weights().output.type, WeightFormat::kQ6_K);  // tied embedding = output head
  }
  std::vector<int32_t> ids;
  for (int32_t i = 0; i < 48; ++i) ids.push_back((i * 389 + 7) % 1024);
  ThreadPool pool(2);
  Forward fast(model, pool);
  Forward reference(model, pool, {.reference = true});
  const std::vector<float> got = RunAll(model, fast, ids, 48);
  const std::vector<float> want = RunAll(model, reference, ids, 48);
  const int64_t vocab = model.config().vocab_size;
  float max_diff = 0, max_logit = 0;
  int argmax_agree = 0;
  for (size_t r = 0; r < ids.size(); ++r) {
    const float* g = &got[r * vocab];
    const float* w = &want[r * vocab];
    for (int64_t i = 0; i < vocab; ++i) {
      max_diff = std::max(max_diff, std::abs(g[i] - w[i]));
      max_logit = std::max(max_logit, std::abs(w[i]));
    }
    argmax_agree += testing::Argmax(g, vocab) == testing::Argmax(w, vocab);
  }
  // Activations quantised to 8 bits: about 1% of the logit scale at most.
  EXPECT_LT(max_diff, 0.02f * max_logit) << type;
  EXPECT_GE(argmax_agree, 44) << type;  // of 48

  const std::vector<float> chunked = RunAll(model, fast, ids, 5);
  EXPECT_EQ(std::memcmp(chunked.data(), got.data(), got.size() * sizeof(float)), 0);
}

INSTANTIATE_TEST_SUITE_P(Types, QuantizedForward,
                         ::testing::Values("q8_0", "q4_0", "q5_0", "q4_k_m"));

}  // namespace
}  // namespace medassist::model
