// Reads the stories260K model as converted to Hugging Face llama and qwen2 folders (see
// shared/data/SOURCES.md) and checks the tensors against the model's shape and against the
// original GGUF file, read by the independent GGUF reader.
#include <gtest/gtest.h>

#include <algorithm>

#include "formats/gguf_reader.h"
#include "formats/safetensors_model.h"
#include "formats/safetensors_reader.h"
#include "support/test_support.h"

namespace medassist::formats {
namespace {

std::string Stories(const std::string& relative) {
  return medassist::testing::SharedDataPath("tiny-models/stories260K/" + relative);
}

void ExpectF32(const SafetensorsFile& f, const std::string& name,
               const std::vector<uint64_t>& shape) {
  const SafetensorsTensor* t = f.Find(name);
  ASSERT_NE(t, nullptr) << name;
  EXPECT_EQ(t->dtype, SafetensorsDtype::kF32) << name;
  EXPECT_EQ(t->shape, shape) << name;
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  EXPECT_EQ(t->n_elements, n) << name;
  EXPECT_EQ(t->data.size(), n * 4) << name;
}

TEST(SafetensorsGolden, Stories260KLlama) {
  Result<SafetensorsFile> r =
      SafetensorsFile::Open(Stories("stories260K-hf-llama/model.safetensors"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const SafetensorsFile& f = *r;
  // 5 layers x 9 tensors + embed_tokens + norm + lm_head.
  EXPECT_EQ(f.tensors().size(), 48u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  ExpectF32(f, "model.embed_tokens.weight", {512, 64});
  ExpectF32(f, "model.norm.weight", {64});
  ExpectF32(f, "lm_head.weight", {512, 64});
  ExpectF32(f, "model.layers.4.self_attn.q_proj.weight", {64, 64});
  ExpectF32(f, "model.layers.0.self_attn.k_proj.weight", {32, 64});  // 4 kv heads of 8
  ExpectF32(f, "model.layers.2.mlp.gate_proj.weight", {172, 64});
  ExpectF32(f, "model.layers.2.mlp.down_proj.weight", {64, 172});
  EXPECT_EQ(f.Find("model.layers.0.self_attn.q_proj.bias"), nullptr);
  EXPECT_EQ(f.Find("model.layers.5.input_layernorm.weight"), nullptr);
  EXPECT_EQ(f.tensors().front().name, "model.embed_tokens.weight");  // offset 0
  EXPECT_EQ(f.tensors().front().data_begin, 0u);
  // The converter wrote the tensors back to back up to the end of the file.
  const SafetensorsTensor& last = f.tensors().back();
  EXPECT_EQ(f.data_offset() + last.data_begin + last.data.size(), 1176232u);
}

TEST(SafetensorsGolden, Stories260KQwen2) {
  Result<SafetensorsFile> r =
      SafetensorsFile::Open(Stories("stories260K-hf-qwen2/model.safetensors"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const SafetensorsFile& f = *r;
  // 5 layers x 12 tensors (q/k/v biases) + embed_tokens + norm; tied embeddings, no lm_head.
  EXPECT_EQ(f.tensors().size(), 62u);
  ExpectF32(f, "model.embed_tokens.weight", {512, 64});
  ExpectF32(f, "model.layers.0.self_attn.q_proj.bias", {64});
  ExpectF32(f, "model.layers.4.self_attn.k_proj.bias", {32});
  ExpectF32(f, "model.layers.3.self_attn.v_proj.bias", {32});
  EXPECT_EQ(f.Find("model.layers.0.self_attn.o_proj.bias"), nullptr);
  EXPECT_EQ(f.Find("lm_head.weight"), nullptr);
}

TEST(SafetensorsGolden, FolderLoaderMatchesTheFile) {
  Result<SafetensorsModel> m = SafetensorsModel::OpenFolder(Stories("stories260K-hf-qwen2"));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->files().size(), 1u);
  EXPECT_EQ(m->n_tensors(), 62u);
  ASSERT_NE(m->Find("model.norm.weight"), nullptr);
  EXPECT_EQ(m->Find("model.norm.weight")->shape, (std::vector<uint64_t>{64}));
}

// The llama conversion copies the embedding table unchanged (only q/k are permuted), so its bytes
// must equal the GGUF's token_embd.weight ([64, 512] in ggml order is [512, 64] row-major).
TEST(SafetensorsGolden, Stories260KEmbeddingsEqualTheGguf) {
  Result<SafetensorsFile> st =
      SafetensorsFile::Open(Stories("stories260K-hf-llama/model.safetensors"));
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  Result<GgufFile> gguf = GgufFile::Open(Stories("stories260K.gguf"));
  ASSERT_TRUE(gguf.ok()) << gguf.status().ToString();
  const SafetensorsTensor* embed = st->Find("model.embed_tokens.weight");
  const GgufTensorInfo* token_embd = gguf->FindTensor("token_embd.weight");
  ASSERT_NE(embed, nullptr);
  ASSERT_NE(token_embd, nullptr);
  EXPECT_EQ(token_embd->dims, (std::vector<uint64_t>{64, 512}));
  ASSERT_EQ(embed->data.size(), token_embd->data.size());
  EXPECT_TRUE(std::equal(embed->data.begin(), embed->data.end(), token_embd->data.begin()));
  const SafetensorsTensor* norm = st->Find("model.norm.weight");
  const GgufTensorInfo* output_norm = gguf->FindTensor("output_norm.weight");
  ASSERT_NE(norm, nullptr);
  ASSERT_NE(output_norm, nullptr);
  EXPECT_TRUE(std::equal(norm->data.begin(), norm->data.end(), output_norm->data.begin(),
                         output_norm->data.end()));
}

}  // namespace
}  // namespace medassist::formats
