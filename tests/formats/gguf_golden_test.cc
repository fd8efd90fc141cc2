// Reads a real GGUF file from outside the project (llama2.c stories260K as converted for
// go-llama's test data; see shared/data/SOURCES.md) and checks it against facts recorded there and
// against tok512_vocab.json, which was extracted from the same file by other tools.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "formats/json_util.h"
#include "support/test_support.h"

namespace medassist::formats {
namespace {

std::string Stories260KPath() {
  return medassist::testing::SharedDataPath("tiny-models/stories260K/stories260K.gguf");
}

TEST(GgufGolden, Stories260KMetadata) {
  Result<GgufFile> r = GgufFile::Open(Stories260KPath());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const GgufFile& f = *r;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset(), 14176u);
  ASSERT_EQ(f.metadata().size(), 19u);
  EXPECT_EQ(f.metadata()[0].key, "tokenizer.ggml.tokens");
  EXPECT_EQ(*f.GetString("general.architecture"), "llama");
  EXPECT_EQ(*f.GetString("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(*f.GetUint32("llama.block_count"), 5u);
  EXPECT_EQ(*f.GetUint32("llama.embedding_length"), 64u);
  EXPECT_EQ(*f.GetUint32("llama.feed_forward_length"), 172u);
  EXPECT_EQ(*f.GetUint32("llama.attention.head_count"), 8u);
  EXPECT_EQ(*f.GetUint32("llama.attention.head_count_kv"), 4u);
  EXPECT_EQ(*f.GetUint32("llama.context_length"), 2048u);
  EXPECT_EQ(*f.GetUint32("tokenizer.ggml.eos_token_id"), 2u);
  EXPECT_EQ(*f.GetUint32("tokenizer.ggml.padding_token_id"), 4294967295u);
  EXPECT_FLOAT_EQ(*f.GetFloat32("llama.attention.layer_norm_rms_epsilon"), 1e-5f);

  Result<std::vector<std::string_view>> tokens = f.GetStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
  ASSERT_EQ(tokens->size(), 512u);
  EXPECT_EQ((*tokens)[0], "<unk>");
  EXPECT_EQ((*tokens)[1], "<s>");
  EXPECT_EQ((*tokens)[2], "</s>");
  EXPECT_EQ(f.GetFloat32Array("tokenizer.ggml.scores")->size(), 512u);
  Result<std::vector<int32_t>> types = f.GetInt32Array("tokenizer.ggml.token_type");
  ASSERT_TRUE(types.ok());
  EXPECT_EQ((*types)[0], 2);  // unknown
  EXPECT_EQ((*types)[1], 3);  // control
}

TEST(GgufGolden, Stories260KVocabularyMatchesTheExtractedJson) {
  Result<GgufFile> r = GgufFile::Open(Stories260KPath());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::string json_path =
      medassist::testing::SharedDataPath("tiny-models/stories260K/tok512_vocab.json");
  Result<nlohmann::json> vocab = ReadJsonFile(json_path);
  ASSERT_TRUE(vocab.ok()) << vocab.status().ToString();
  const auto tokens = (*vocab)["tokens"].get<std::vector<std::string>>();
  const auto scores = (*vocab)["scores"].get<std::vector<float>>();
  const auto token_type = (*vocab)["token_type"].get<std::vector<int32_t>>();
  ASSERT_EQ(tokens.size(), 512u);
  const std::vector<std::string_view> got_tokens = *r->GetStringArray("tokenizer.ggml.tokens");
  EXPECT_TRUE(std::equal(tokens.begin(), tokens.end(), got_tokens.begin(), got_tokens.end()));
  EXPECT_EQ(*r->GetFloat32Array("tokenizer.ggml.scores"), scores);
  EXPECT_EQ(*r->GetInt32Array("tokenizer.ggml.token_type"), token_type);
  EXPECT_EQ(*r->GetUint32("tokenizer.ggml.bos_token_id"), (*vocab)["bos_token_id"].get<uint32_t>());
  EXPECT_EQ(*r->GetUint32("tokenizer.ggml.unknown_token_id"), 0u);
}

TEST(GgufGolden, Stories260KTensors) {
  Result<GgufFile> r = GgufFile::Open(Stories260KPath());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const GgufFile& f = *r;
  ASSERT_EQ(f.tensors().size(), 48u);
  const GgufTensorInfo* embd = f.FindTensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->type, GgmlType::kF32);
  EXPECT_EQ(embd->dims, (std::vector<uint64_t>{64, 512}));
  EXPECT_EQ(embd->offset, 0u);
  EXPECT_EQ(embd->n_bytes, 64u * 512u * 4u);
  const GgufTensorInfo* down = f.FindTensor("blk.4.ffn_down.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->dims, (std::vector<uint64_t>{172, 64}));
  EXPECT_EQ(down->offset, 1082880u);
  const GgufTensorInfo* last = f.FindTensor("blk.4.ffn_norm.weight");
  EXPECT_EQ(f.data_offset() + last->offset + last->n_bytes, 1185376u);  // ends the file exactly
  // SOURCES.md: output.weight is identical to token_embd.weight.
  const GgufTensorInfo* output = f.FindTensor("output.weight");
  ASSERT_EQ(output->n_bytes, embd->n_bytes);
  EXPECT_EQ(std::memcmp(output->data.data(), embd->data.data(), embd->n_bytes), 0);
  EXPECT_NE(output->data.data(), embd->data.data());
  float norm0 = 0;
  std::memcpy(&norm0, f.FindTensor("output_norm.weight")->data.data(), sizeof norm0);
  EXPECT_TRUE(norm0 > 0.0f && norm0 < 100.0f) << norm0;  // RMSNorm gains are positive
}

// Copying every key and tensor through the writer reproduces the file byte for byte: the writer
// lays out a file exactly as llama.cpp's converter did.
TEST(GgufGolden, Stories260KRewritesIdentically) {
  Result<GgufFile> r = GgufFile::Open(Stories260KPath());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  GgufWriter w;
  for (const GgufKeyValue& kv : r->metadata()) w.AddValue(kv.key, kv.value);
  for (const GgufTensorInfo& t : r->tensors()) w.AddTensor(t.name, t.type, t.dims, t.data);
  Result<std::string> out = w.WriteToString();
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(*out == medassist::testing::ReadFileOrFail(Stories260KPath()));
}

}  // namespace
}  // namespace medassist::formats
