// export-gguf against outside references: the HF-format stories260K must export to exactly the
// tensors of llama.cpp's own stories260K.gguf (which fixes the q/k permutation's direction); a
// synthetic Qwen2.5-shaped folder checks metadata, padding, conversions and that the tokenizer read
// back from the GGUF encodes as the folder's; and every refusal leaves nothing at --out.
#include "model/gguf_export.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "formats/gguf_reader.h"
#include "formats/safetensors_model.h"
#include "formats/safetensors_writer.h"
#include "kernels/fp16.h"
#include "model/synth_model.h"
#include "model/synth_weights.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

namespace medassist::model {
namespace {

namespace fs = std::filesystem;
using formats::GgmlType;
using formats::GgufFile;
using formats::GgufTensorInfo;
using formats::SafetensorsDtype;
using medassist::testing::SharedDataPath;
using medassist::testing::TempDir;

std::string StoriesDir() { return SharedDataPath("tiny-models/stories260K/stories260K-hf-llama"); }
std::string StoriesGguf() { return SharedDataPath("tiny-models/stories260K/stories260K.gguf"); }

Result<GgufExportSummary> Export(const std::string& model, const std::string& out,
                                 const std::string& tokenizer = "",
                                 GgufExportType type = GgufExportType::kKeep) {
  return ExportGguf(
      {.model_dir = model, .out_path = out, .tokenizer_path = tokenizer, .out_type = type});
}

GgufFile OpenOrDie(const std::string& path) {
  Result<GgufFile> f = GgufFile::Open(path);
  CHECK(f.ok()) << f.status().ToString();
  return std::move(f).value();
}

std::vector<uint8_t> Bytes(std::span<const uint8_t> s) { return {s.begin(), s.end()}; }

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
float Bf16ToFloat(uint16_t h) {
  const uint32_t bits = uint32_t{h} << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Only what this directory holds besides `expected`: no temporary files, no partial output.
std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(GgufExportStories, TensorsAndTokenizerEqualLlamaCppsOwnFile) {
  TempDir dir;
  const std::string out = dir.path() + "/stories.gguf";
  Result<GgufExportSummary> s = Export(StoriesDir(), out, StoriesGguf());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->arch, "llama");
  EXPECT_EQ(s->file_type, 0u);
  EXPECT_EQ(s->file_bytes, fs::file_size(out));
  const GgufFile got = OpenOrDie(out);
  const GgufFile want = OpenOrDie(StoriesGguf());
  ASSERT_EQ(got.tensors().size(), want.tensors().size());
  EXPECT_EQ(s->n_tensors, want.tensors().size());
  for (const GgufTensorInfo& t : got.tensors()) {
    const GgufTensorInfo* w = want.FindTensor(t.name);
    ASSERT_NE(w, nullptr) << t.name;
    EXPECT_EQ(t.type, w->type) << t.name;
    EXPECT_EQ(t.dims, w->dims) << t.name;
    EXPECT_TRUE(Bytes(t.data) == Bytes(w->data)) << t.name << " differs from stories260K.gguf";
  }
  // The test can fail: q/k are stored permuted, so the HF rows alone would not match.
  Result<formats::SafetensorsModel> hf = formats::SafetensorsModel::OpenFolder(StoriesDir());
  ASSERT_TRUE(hf.ok());
  for (const char* n : {"q_proj", "k_proj"}) {
    const std::string hf_name = std::string("model.layers.0.self_attn.") + n + ".weight";
    const std::string gguf_name = std::string("blk.0.attn_") + n[0] + ".weight";
    EXPECT_NE(Bytes(hf->Find(hf_name)->data), Bytes(got.FindTensor(gguf_name)->data)) << n;
  }
  EXPECT_EQ(*got.GetStringArray("tokenizer.ggml.tokens"),
            *want.GetStringArray("tokenizer.ggml.tokens"));
  EXPECT_EQ(*got.GetFloat32Array("tokenizer.ggml.scores"),
            *want.GetFloat32Array("tokenizer.ggml.scores"));
  EXPECT_EQ(*got.GetInt32Array("tokenizer.ggml.token_type"),
            *want.GetInt32Array("tokenizer.ggml.token_type"));
  EXPECT_EQ(*got.GetString("tokenizer.ggml.model"), "llama");
  for (const char* key : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                          "tokenizer.ggml.unknown_token_id"}) {
    EXPECT_EQ(*got.GetUint32(key), *want.GetUint32(key)) << key;
  }
  // Hyperparameters both files have agree. context_length is left out: the HF config says 512
  // (max_position_embeddings), llama2.c's export said 2048.
  size_t n_compared = 0;
  for (const formats::GgufKeyValue& kv : want.metadata()) {
    if (kv.key.rfind("llama.", 0) != 0 || kv.key == "llama.context_length") continue;
    const formats::GgufValue* v = got.Find(kv.key);
    ASSERT_NE(v, nullptr) << kv.key;
    EXPECT_EQ(v->type(), kv.value.type()) << kv.key;
    EXPECT_EQ(Bytes(v->payload()), Bytes(kv.value.payload())) << kv.key;
    ++n_compared;
  }
  EXPECT_EQ(n_compared, 7u);
  EXPECT_EQ(*got.GetUint32("llama.context_length"), 512u);
  EXPECT_EQ(*got.GetString("general.name"), "stories260K-hf-llama");
  EXPECT_EQ(*got.GetUint32("llama.vocab_size"), 512u);
  EXPECT_EQ(FilesIn(dir.path()), std::vector<std::string>{"stories.gguf"});
}

// A Qwen2.5-shaped model small enough for a test: the real tokenizer (151,665 tokens) with a
// padded embedding table, tied embeddings and q/k/v biases.
constexpr char kQwenConfig[] = R"({
  "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_act": "silu",
  "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
  "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 151680,
  "max_position_embeddings": 32768, "rope_theta": 1000000.0, "rms_norm_eps": 1e-06,
  "tie_word_embeddings": true, "use_sliding_window": false, "torch_dtype": "bfloat16",
  "bos_token_id": 151643, "eos_token_id": 151645})";

class GgufExportQwen : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    const std::string config = dir_->WriteFile("config.json", kQwenConfig);
    for (auto [name, dtype] :
         {std::pair{"bf16", SafetensorsDtype::kBF16}, std::pair{"f32", SafetensorsDtype::kF32}}) {
      Result<SynthModelSummary> s =
          SynthModelFolder({.config_path = config,
                            .out_dir = dir_->path() + "/" + name,
                            .tokenizer_dir = MEDASSIST_TOKENIZER_ASSETS_DIR,
                            .dtype = dtype,
                            .seed = 5});
      CHECK(s.ok()) << s.status().ToString();
    }
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string Folder(const char* name) { return dir_->path() + "/" + name; }

  static TempDir* dir_;
  TempDir out_;
};
TempDir* GgufExportQwen::dir_ = nullptr;

TEST_F(GgufExportQwen, MetadataTiedEmbeddingsBiasesAndPadding) {
  const std::string out = out_.path() + "/q.gguf";
  Result<GgufExportSummary> s = Export(Folder("bf16"), out);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->file_type, 32u);  // all matrices BF16
  const GgufFile g = OpenOrDie(out);
  EXPECT_EQ(*g.GetString("general.architecture"), "qwen2");
  EXPECT_EQ(*g.GetString("general.name"), "bf16");
  EXPECT_EQ(*g.GetUint32("general.file_type"), 32u);
  const std::pair<const char*, uint32_t> ints[] = {{"qwen2.context_length", 32768},
                                                   {"qwen2.embedding_length", 64},
                                                   {"qwen2.block_count", 2},
                                                   {"qwen2.feed_forward_length", 128},
                                                   {"qwen2.attention.head_count", 4},
                                                   {"qwen2.attention.head_count_kv", 2},
                                                   {"qwen2.rope.dimension_count", 16},
                                                   {"qwen2.attention.key_length", 16},
                                                   {"qwen2.attention.value_length", 16},
                                                   {"qwen2.vocab_size", 151680}};
  for (const auto& [key, value] : ints) EXPECT_EQ(*g.GetUint32(key), value) << key;
  EXPECT_EQ(*g.GetFloat32("qwen2.rope.freq_base"), 1e6f);
  EXPECT_EQ(*g.GetFloat32("qwen2.attention.layer_norm_rms_epsilon"), 1e-6f);
  EXPECT_EQ(*g.GetString("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(*g.GetString("tokenizer.ggml.pre"), "qwen2");
  EXPECT_EQ(*g.GetUint32("tokenizer.ggml.eos_token_id"), 151645u);
  EXPECT_FALSE(*g.GetBool("tokenizer.ggml.add_bos_token"));
  const std::vector<std::string_view> tokens = *g.GetStringArray("tokenizer.ggml.tokens");
  const std::vector<int32_t> types = *g.GetInt32Array("tokenizer.ggml.token_type");
  ASSERT_EQ(tokens.size(), 151680u);
  ASSERT_EQ(types.size(), 151680u);
  EXPECT_EQ(tokens[151644], "<|im_start|>");
  EXPECT_EQ(types[151644], 3);  // control
  EXPECT_EQ(types[0], 1);
  for (size_t id = 151665; id < tokens.size(); ++id) {
    EXPECT_EQ(tokens[id], "[PAD" + std::to_string(id) + "]");
    EXPECT_EQ(types[id], 5);
  }
  EXPECT_EQ(g.GetStringArray("tokenizer.ggml.merges")->at(0), "Ġ Ġ");
  // Tied: no output.weight. Biases and norms F32, matrices as stored, dims reversed.
  EXPECT_EQ(g.FindTensor("output.weight"), nullptr);
  EXPECT_EQ(g.tensors().size(), 2u + 2 * 12);
  const GgufTensorInfo* bias = g.FindTensor("blk.1.attn_k.bias");
  ASSERT_NE(bias, nullptr);
  EXPECT_EQ(bias->type, GgmlType::kF32);
  EXPECT_EQ(bias->dims, (std::vector<uint64_t>{32}));
  EXPECT_EQ(g.FindTensor("output_norm.weight")->type, GgmlType::kF32);
  const GgufTensorInfo* embd = g.FindTensor("token_embd.weight");
  EXPECT_EQ(embd->type, GgmlType::kBF16);
  EXPECT_EQ(embd->dims, (std::vector<uint64_t>{64, 151680}));
  EXPECT_EQ(g.FindTensor("blk.0.ffn_down.weight")->dims, (std::vector<uint64_t>{128, 64}));
}

TEST_F(GgufExportQwen, Bf16ToF32IsExactAndQwenIsNotPermuted) {
  const std::string out = out_.path() + "/q.gguf";
  Result<GgufExportSummary> s = Export(Folder("bf16"), out, "", GgufExportType::kF32);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->file_type, 0u);
  const GgufFile g = OpenOrDie(out);
  Result<formats::SafetensorsModel> hf = formats::SafetensorsModel::OpenFolder(Folder("bf16"));
  ASSERT_TRUE(hf.ok());
  for (auto [hf_name, gguf_name] :
       {std::pair{"model.layers.1.self_attn.q_proj.weight", "blk.1.attn_q.weight"},
        std::pair{"model.layers.0.self_attn.q_proj.bias", "blk.0.attn_q.bias"},
        std::pair{"model.embed_tokens.weight", "token_embd.weight"}}) {
    const formats::SafetensorsTensor* src = hf->Find(hf_name);
    const GgufTensorInfo* dst = g.FindTensor(gguf_name);
    ASSERT_TRUE(src != nullptr && dst != nullptr) << hf_name;
    ASSERT_EQ(dst->type, GgmlType::kF32);
    ASSERT_EQ(dst->n_elements, src->n_elements);
    for (uint64_t i = 0; i < src->n_elements; ++i) {
      ASSERT_EQ(Load<float>(dst->data.data() + 4 * i),
                Bf16ToFloat(Load<uint16_t>(src->data.data() + 2 * i)))
          << hf_name << " element " << i;
    }
  }
}

TEST_F(GgufExportQwen, F32ToBf16AndF16RoundToNearestEven) {
  Result<formats::SafetensorsModel> hf = formats::SafetensorsModel::OpenFolder(Folder("f32"));
  ASSERT_TRUE(hf.ok());
  const formats::SafetensorsTensor* src = hf->Find("model.layers.0.mlp.up_proj.weight");
  ASSERT_NE(src, nullptr);
  for (GgufExportType type : {GgufExportType::kBF16, GgufExportType::kF16}) {
    const std::string out = out_.path() + "/q.gguf";
    Result<GgufExportSummary> s = Export(Folder("f32"), out, "", type);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ(s->file_type, type == GgufExportType::kBF16 ? 32u : 1u);
    const GgufFile g = OpenOrDie(out);
    const GgufTensorInfo* dst = g.FindTensor("blk.0.ffn_up.weight");
    ASSERT_EQ(dst->type, type == GgufExportType::kBF16 ? GgmlType::kBF16 : GgmlType::kF16);
    for (uint64_t i = 0; i < src->n_elements; ++i) {
      const float f = Load<float>(src->data.data() + 4 * i);
      const uint16_t want =
          type == GgufExportType::kBF16 ? kernels::F32ToBF16(f) : kernels::F32ToF16(f);
      ASSERT_EQ(Load<uint16_t>(dst->data.data() + 2 * i), want) << i;
    }
    EXPECT_EQ(g.FindTensor("blk.0.attn_norm.weight")->type, GgmlType::kF32);
  }
}

TEST(GgufExportF16, RoundsToNearestEvenOverflowsToInfKeepsNan) {
  EXPECT_EQ(kernels::F32ToF16(1.0f), 0x3C00);
  EXPECT_EQ(kernels::F32ToF16(-2.0f), 0xC000);
  EXPECT_EQ(kernels::F32ToF16(0.0f), 0x0000);
  EXPECT_EQ(kernels::F32ToF16(-0.0f), 0x8000);
  EXPECT_EQ(kernels::F32ToF16(65504.0f), 0x7BFF);             // largest half
  EXPECT_EQ(kernels::F32ToF16(65519.0f), 0x7BFF);             // below halfway to 65536
  EXPECT_EQ(kernels::F32ToF16(65520.0f), 0x7C00);             // halfway: ties to even = inf
  EXPECT_EQ(kernels::F32ToF16(1e10f), 0x7C00);                // overflow
  EXPECT_EQ(kernels::F32ToF16(-INFINITY), 0xFC00);            //
  EXPECT_EQ(kernels::F32ToF16(1.0f + 0x1p-11f), 0x3C00);      // tie -> even (1.0)
  EXPECT_EQ(kernels::F32ToF16(1.0f + 3 * 0x1p-11f), 0x3C02);  // tie -> even (1 + 2^-9)
  EXPECT_EQ(kernels::F32ToF16(1.0f + 0x1p-11f + 0x1p-20f), 0x3C01);
  EXPECT_EQ(kernels::F32ToF16(0x1p-14f), 0x0400);    // smallest normal
  EXPECT_EQ(kernels::F32ToF16(0x1p-24f), 0x0001);    // smallest subnormal
  EXPECT_EQ(kernels::F32ToF16(0x1p-25f), 0x0000);    // tie -> even (0)
  EXPECT_EQ(kernels::F32ToF16(0x1.8p-24f), 0x0002);  // 1.5 units: tie -> even (2)
  EXPECT_EQ(kernels::F32ToF16(0x1p-25f + 0x1p-40f), 0x0001);
  EXPECT_EQ(kernels::F32ToF16(0x1.ffcp-15f), 0x0400);  // rounds up into the normals
  const uint16_t nan = kernels::F32ToF16(std::nanf(""));
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x03FF, 0);
}

TEST_F(GgufExportQwen, TokenizerReadBackEncodesAsTheFolders) {
  const std::string out = out_.path() + "/q.gguf";
  ASSERT_TRUE(Export(Folder("bf16"), out).ok());
  Result<tokenizer::Tokenizer> from_gguf = tokenizer::Tokenizer::Load(out);
  ASSERT_TRUE(from_gguf.ok()) << from_gguf.status().ToString();
  Result<tokenizer::Tokenizer> from_folder = tokenizer::Tokenizer::Load(Folder("bf16"));
  ASSERT_TRUE(from_folder.ok()) << from_folder.status().ToString();
  EXPECT_EQ(from_gguf->vocab_size(), 151680);
  EXPECT_EQ(from_gguf->eos_id(), from_folder->eos_id());
  EXPECT_EQ(from_gguf->chat_template(), from_folder->chat_template());
  const tokenizer::EncodeOptions special{.parse_special = true};
  for (const char* text :
       {"The patient's temperature is 38.5°C; BP 120/80 mmHg.", "患者主诉头痛三天，伴有恶心。",
        "def f(x):\n    return x ** 2  # square\n\n\n", "naïve café ＡＢＣ 👩‍⚕️",
        "<|im_start|>user\nhi<|im_end|>"}) {
    EXPECT_EQ(from_gguf->Encode(text), from_folder->Encode(text)) << text;
    EXPECT_EQ(from_gguf->Encode(text, special), from_folder->Encode(text, special)) << text;
  }
  EXPECT_EQ(from_gguf->Encode("<|im_start|>user\nhi<|im_end|>", special),
            (std::vector<tokenizer::TokenId>{151644, 872, 198, 6023, 151645}));
}

// ---- refusals ----------------------------------------------------------------------------------

// The stories260K weights with one tensor replaced by `bad` (same name), under dir/name.
std::string BrokenStories(const TempDir& dir, const std::string& name, const std::string& bad_name,
                          SafetensorsDtype bad_dtype, std::vector<uint64_t> bad_shape) {
  fs::create_directory(dir.path() + "/" + name);
  fs::copy_file(StoriesDir() + "/config.json", dir.path() + "/" + name + "/config.json");
  Result<formats::SafetensorsModel> hf = formats::SafetensorsModel::OpenFolder(StoriesDir());
  CHECK(hf.ok());
  formats::SafetensorsWriter w;
  for (const formats::SafetensorsTensor& t : hf->files()[0].tensors()) {
    if (t.name != bad_name) {
      w.AddTensor(t.name, t.dtype, t.shape, t.data);
      continue;
    }
    uint64_t n = 1;
    for (uint64_t d : bad_shape) n *= d;
    w.AddTensor(t.name, bad_dtype, bad_shape,
                std::vector<uint8_t>(n * formats::SafetensorsDtypeSize(bad_dtype)));
  }
  CHECK(w.WriteToFile(dir.path() + "/" + name + "/model.safetensors").ok());
  return dir.path() + "/" + name;
}

void ExpectRefused(const Result<GgufExportSummary>& r, StatusCode code,
                   const std::vector<std::string>& words) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), code) << r.status().ToString();
  for (const std::string& w : words) {
    EXPECT_NE(r.status().message().find(w), std::string::npos)
        << "'" << w << "' not in: " << r.status().message();
  }
}

TEST(GgufExportErrors, EachProblemIsNamedAndNothingIsWritten) {
  TempDir in, out;
  const std::string path = out.path() + "/x.gguf";
  ExpectRefused(Export(in.path() + "/missing", path, StoriesGguf()), StatusCode::kNotFound,
                {"missing", "no such folder"});
  fs::create_directory(in.path() + "/noweights");
  fs::copy_file(StoriesDir() + "/config.json", in.path() + "/noweights/config.json",
                fs::copy_options::overwrite_existing);
  ExpectRefused(Export(in.path() + "/noweights", path, StoriesGguf()), StatusCode::kNotFound,
                {"noweights", "model.safetensors"});
  const std::string shape = BrokenStories(in, "shape", "model.layers.2.mlp.up_proj.weight",
                                          SafetensorsDtype::kF32, {172, 63});
  ExpectRefused(
      Export(shape, path, StoriesGguf()), StatusCode::kDataLoss,
      {"shape/model.safetensors", "model.layers.2.mlp.up_proj.weight", "[172, 63]", "[172, 64]"});
  const std::string i32 =
      BrokenStories(in, "i32", "model.norm.weight", SafetensorsDtype::kI32, {64});
  ExpectRefused(Export(i32, path, StoriesGguf()), StatusCode::kUnimplemented,
                {"i32/model.safetensors", "model.norm.weight", "I32"});
  const std::string qwen = SharedDataPath("tiny-models/stories260K/stories260K-hf-qwen2");
  ExpectRefused(Export(qwen, path), StatusCode::kNotFound, {"--tokenizer", qwen});
  ExpectRefused(Export(qwen, path, MEDASSIST_TOKENIZER_ASSETS_DIR), StatusCode::kInvalidArgument,
                {"151665 tokens", "vocab_size 512"});
  Result<GgufExportType> bogus = ParseGgufExportType("bogus");
  EXPECT_EQ(bogus.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bogus.status().message().find("'bogus'"), std::string::npos);
  EXPECT_EQ(*ParseGgufExportType("bf16"), GgufExportType::kBF16);
  EXPECT_TRUE(fs::is_empty(out.path())) << "no output and no temporary file";
}

}  // namespace
}  // namespace medassist::model
