// medassist quantize and --dtype, run in-process on a synthetic Qwen2 (8 layers, so the Q4_K_M
// recipe's "more bits" layers differ from the others; ffn rows of 320, so ffn_down falls back):
// the written types are the expected mix, the logits stay close to F32, every refusal names its
// cause and leaves no file, and a model converted on load computes the same logits bit for bit as
// the file `quantize` writes with the same type.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "apps/cli.h"
#include "formats/gguf_reader.h"
#include "model/synth_model.h"
#include "support/test_support.h"

namespace medassist::apps {
namespace {

namespace fs = std::filesystem;
using medassist::testing::SharedDataPath;

constexpr char kConfig[] = R"({
  "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
  "hidden_size": 256, "intermediate_size": 320, "num_hidden_layers": 8,
  "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512,
  "max_position_embeddings": 256, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6,
  "tie_word_embeddings": true, "hidden_act": "silu", "torch_dtype": "bfloat16"
})";

struct CliRun {
  int code;
  std::string out, err;
};

CliRun Medassist(std::vector<std::string> args) {
  args.insert(args.begin(), "medassist");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int code = RunCli(static_cast<int>(argv.size()), argv.data());
  std::fflush(stdout);
  std::string out = ::testing::internal::GetCapturedStdout();
  return {code, out, ::testing::internal::GetCapturedStderr()};
}

std::string StoriesTokenizer() {
  return SharedDataPath("tiny-models/stories260K/stories260K.gguf");
}

// Types by tensor name, in the file at path.
std::map<std::string, std::string> TensorTypes(const std::string& path) {
  Result<formats::GgufFile> f = formats::GgufFile::Open(path);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  std::map<std::string, std::string> types;
  if (!f.ok()) return types;
  for (const formats::GgufTensorInfo& t : f->tensors()) {
    types[std::string(t.name)] = std::string(formats::GgmlTypeName(t.type));
  }
  return types;
}

int LayerOf(const std::string& name) { return std::stoi(name.substr(4)); }  // "blk.N...."

// llama.cpp's Q4_K_M for this model, written out: Q6_K for the output head (the tied embedding)
// and for attn_v / ffn_down in layers 0, 3, 6 and 7 (i < n/8, i >= 7n/8, (i - n/8) % 3 == 2);
// other matrices Q4_K; norms and biases F32. ffn_down's rows of 320 are not whole 256-element
// blocks, so it falls back as llama.cpp's does: Q6_K to Q8_0, Q4_K to Q5_0.
std::string ExpectedQ4KM(const std::string& name) {
  if (name.ends_with("norm.weight") || name.ends_with(".bias")) return "F32";
  if (name == "token_embd.weight") return "Q6_K";
  const bool more_bits = [&] {
    if (!name.starts_with("blk.")) return false;
    const int layer = LayerOf(name);
    return layer == 0 || layer == 3 || layer == 6 || layer == 7;
  }();
  if (name.find("ffn_down") != std::string::npos) return more_bits ? "Q8_0" : "Q5_0";
  if (name.find("attn_v.weight") != std::string::npos) return more_bits ? "Q6_K" : "Q4_K";
  return "Q4_K";
}

class QuantizeCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new medassist::testing::TempDir();
    const std::string config = dir_->WriteFile("config.json", kConfig);
    Result<model::SynthModelSummary> made = model::SynthModelFolder(
        {.config_path = config,
         .out_dir = Path("hf"),
         .tokenizer_dir = std::string(MEDASSIST_SOURCE_DIR) + "/assets/qwen2.5-tokenizer",
         .dtype = formats::SafetensorsDtype::kBF16,
         .seed = 5});
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    // The folder's own tokenizer (Qwen2.5, 151k tokens) is too large for vocab_size 512.
    const CliRun f32 = Medassist({"quantize", Path("hf"), Path("f32.gguf"), "--type", "F32",
                                  "--tokenizer", StoriesTokenizer()});
    ASSERT_EQ(f32.code, 0) << f32.err;
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string Path(const std::string& name) { return dir_->path() + "/" + name; }

  // Every position's logits of a short prompt (the logits command: the reference forward pass).
  static std::vector<float> Logits(const std::string& model, const std::string& dtype = "keep") {
    const CliRun r =
        Medassist({"logits", "--model", model, "--dtype", dtype, "--token-ids", "1,45,300,7,511"});
    EXPECT_EQ(r.code, 0) << r.err;
    std::vector<float> all;
    if (r.code != 0) return all;
    const nlohmann::json parsed = nlohmann::json::parse(r.out);
    for (const auto& row : parsed.at("logits")) {
      for (float v : row) all.push_back(v);
    }
    return all;
  }

  // No temporary or partial files in the test folder.
  static void ExpectNoTemporaryFiles() {
    for (const auto& e : fs::directory_iterator(dir_->path())) {
      EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
    }
  }

  static medassist::testing::TempDir* dir_;
};
medassist::testing::TempDir* QuantizeCli::dir_ = nullptr;

TEST_F(QuantizeCli, WritesTheQ4KMMixAndASummary) {
  const CliRun r = Medassist({"quantize", Path("f32.gguf"), Path("q4km.gguf"), "--type", "q4_k_m"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::map<std::string, int> n_by_type;
  for (const auto& [name, type] : TensorTypes(Path("q4km.gguf"))) {
    EXPECT_EQ(type, ExpectedQ4KM(name)) << name;
    n_by_type[type] += 1;
  }
  // 8 layers: 4 attn_v in Q6_K + the head; 4 ffn_down in Q8_0 and 4 in Q5_0; q, k, o, gate, up
  // and 4 attn_v in Q4_K.
  EXPECT_EQ(n_by_type["Q6_K"], 5);
  EXPECT_EQ(n_by_type["Q8_0"], 4);
  EXPECT_EQ(n_by_type["Q5_0"], 4);
  EXPECT_EQ(n_by_type["Q4_K"], 8 * 5 + 4);
  EXPECT_EQ(n_by_type["F32"], 8 * 5 + 1);  // 2 norms and 3 biases per layer, the final norm
  EXPECT_NE(r.out.find("| Q4_K | 44 | "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| Q6_K | 5 | "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("general.file_type 15"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("quant size = "), std::string::npos) << r.out;
}

TEST_F(QuantizeCli, EachTypeLoadsWithLogitsCloseToF32) {
  const std::vector<float> ref = Logits(Path("f32.gguf"));
  ASSERT_FALSE(ref.empty());
  double ref_ms = 0;
  for (float v : ref) ref_ms += static_cast<double>(v) * v;
  // RMS of the logit error over the RMS of the logits, about 1.5x what each type measured here
  // (F16 6e-7, Q8_0 0.016, Q4_K_M 0.19, Q4_0 0.26: random weights carry the rounding through
  // all 8 layers undamped). The weights are BF16 to begin with, so BF16 is exact.
  const std::pair<const char*, double> kTolerance[] = {
      {"BF16", 0.0}, {"F16", 1e-5}, {"Q8_0", 0.025}, {"Q4_K_M", 0.28}, {"Q4_0", 0.4}};
  double previous = 0;
  for (const auto& [type, tolerance] : kTolerance) {
    const std::string out = Path(std::string("each-") + type + ".gguf");
    const CliRun r = Medassist({"quantize", Path("f32.gguf"), out, "--type", type});
    ASSERT_EQ(r.code, 0) << type << ": " << r.err;
    for (const auto& [name, t] : TensorTypes(out)) {
      const bool vector = name.ends_with("norm.weight") || name.ends_with(".bias");
      const std::string want = std::string(type) == "Q4_K_M" ? ExpectedQ4KM(name) : type;
      EXPECT_EQ(t, vector ? "F32" : want) << type << " " << name;
    }
    const std::vector<float> got = Logits(out);
    ASSERT_EQ(got.size(), ref.size());
    double err_ms = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      err_ms += (static_cast<double>(got[i]) - ref[i]) * (static_cast<double>(got[i]) - ref[i]);
    }
    const double relative = std::sqrt(err_ms / ref_ms);
    if (tolerance == 0.0) {
      EXPECT_EQ(relative, 0.0) << type;
      continue;
    }
    EXPECT_LT(relative, tolerance) << type;
    EXPECT_GT(relative, previous) << type << ": fewer bits should cost more";
    previous = relative;
  }
}

TEST_F(QuantizeCli, RequantizingIsRefusedUnlessAllowed) {
  ASSERT_EQ(Medassist({"quantize", Path("f32.gguf"), Path("rq.gguf"), "--type", "Q4_K_M"}).code, 0);
  const CliRun refused =
      Medassist({"quantize", Path("rq.gguf"), Path("rq8.gguf"), "--type", "Q8_0"});
  EXPECT_EQ(refused.code, 1);
  for (const char* part : {"rq.gguf", "already quantised (Q6_K)", "again to Q8_0",
                           "second rounding error", "--allow-requantize"}) {
    EXPECT_NE(refused.err.find(part), std::string::npos) << part << "\n" << refused.err;
  }
  EXPECT_FALSE(fs::exists(Path("rq8.gguf")));
  const CliRun allowed = Medassist(
      {"quantize", Path("rq.gguf"), Path("rq8.gguf"), "--type", "Q8_0", "--allow-requantize"});
  EXPECT_EQ(allowed.code, 0) << allowed.err;
  EXPECT_EQ(TensorTypes(Path("rq8.gguf"))["blk.1.attn_q.weight"], "Q8_0");
  // Dequantizing is no second rounding, and a type already in place is copied, not requantised.
  EXPECT_EQ(Medassist({"quantize", Path("rq.gguf"), Path("rq16.gguf"), "--type", "F16"}).code, 0);
  const CliRun same =
      Medassist({"quantize", Path("rq.gguf"), Path("rq-same.gguf"), "--type", "Q4_K_M"});
  EXPECT_EQ(same.code, 0) << same.err;
  Result<formats::GgufFile> a = formats::GgufFile::Open(Path("rq.gguf"));
  Result<formats::GgufFile> b = formats::GgufFile::Open(Path("rq-same.gguf"));
  ASSERT_TRUE(a.ok() && b.ok());
  for (const formats::GgufTensorInfo& t : a->tensors()) {
    const formats::GgufTensorInfo* u = b->FindTensor(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    EXPECT_TRUE(std::equal(t.data.begin(), t.data.end(), u->data.begin(), u->data.end())) << t.name;
  }
  ExpectNoTemporaryFiles();
}

TEST_F(QuantizeCli, BadArgumentsAreRefusedAndLeaveNothing) {
  const std::string in = Path("f32.gguf");
  const auto size = fs::file_size(in);
  const CliRun same = Medassist({"quantize", in, in, "--type", "Q8_0"});
  EXPECT_EQ(same.code, 1);
  EXPECT_NE(same.err.find("the output is the input"), std::string::npos) << same.err;
  EXPECT_EQ(fs::file_size(in), size);
  for (const char* type : {"Q3_K", "keep"}) {
    const CliRun bad = Medassist({"quantize", in, Path("bad.gguf"), "--type", type});
    EXPECT_EQ(bad.code, 1);
    EXPECT_NE(bad.err.find(std::string("'") + type + "' is not one of Q8_0, Q4_0"),
              std::string::npos)
        << bad.err;
  }
  EXPECT_FALSE(fs::exists(Path("bad.gguf")));
  const CliRun nowhere = Medassist({"quantize", in, Path("missing/x.gguf"), "--type", "Q8_0"});
  EXPECT_EQ(nowhere.code, 1);
  EXPECT_NE(nowhere.err.find("missing does not exist"), std::string::npos) << nowhere.err;
  const CliRun no_input = Medassist({"quantize", Path("nope"), Path("x.gguf"), "--type", "Q8_0"});
  EXPECT_EQ(no_input.code, 1);
  EXPECT_NE(no_input.err.find("nope"), std::string::npos) << no_input.err;
  EXPECT_NE(Medassist({"quantize", in, Path("x.gguf")}).code, 0) << "--type is required";
  EXPECT_FALSE(fs::exists(Path("x.gguf")));
  ExpectNoTemporaryFiles();
}

// Quantize on load and quantize to a file share the recipe, the quantizer and the kernels.
TEST_F(QuantizeCli, DtypeOnLoadGivesTheLogitsOfTheQuantizedFile) {
  for (const char* type : {"q8_0", "q4_k_m"}) {
    const std::string out = Path(std::string("load-") + type + ".gguf");
    const CliRun r =
        Medassist({"quantize", Path("hf"), out, "--type", type, "--tokenizer", StoriesTokenizer()});
    ASSERT_EQ(r.code, 0) << r.err;
    const std::vector<float> from_file = Logits(out);
    const std::vector<float> on_load = Logits(Path("hf"), type);
    ASSERT_FALSE(from_file.empty());
    EXPECT_TRUE(from_file == on_load) << type << ": logits differ";
    EXPECT_FALSE(on_load == Logits(Path("hf"))) << type << ": --dtype changed nothing";
  }
}

TEST_F(QuantizeCli, DtypeRefusesToRequantizeAndUnknownNames) {
  ASSERT_EQ(Medassist({"quantize", Path("f32.gguf"), Path("d4.gguf"), "--type", "Q4_0"}).code, 0);
  const CliRun r =
      Medassist({"logits", "--model", Path("d4.gguf"), "--dtype", "q8_0", "--token-ids", "1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("already quantised (Q4_0)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--dtype keep"), std::string::npos) << r.err;
  const CliRun bogus =
      Medassist({"logits", "--model", Path("hf"), "--dtype", "q2", "--token-ids", "1"});
  EXPECT_NE(bogus.code, 0);
  EXPECT_NE(bogus.err.find("'q2' is not one of"), std::string::npos) << bogus.err;
}

}  // namespace
}  // namespace medassist::apps
