#include "synthetic_qwen2.h"

#include <gtest/gtest.h>

#include <memory>

#include "model/synth_model.h"
#include "support/test_support.h"

namespace medassist::model::testing {
namespace {

constexpr char kConfig[] = R"({
  "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
  "hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2,
  "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 1024,
  "max_position_embeddings": 256, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6,
  "tie_word_embeddings": true, "hidden_act": "silu", "torch_dtype": "bfloat16",
  "bos_token_id": 1, "eos_token_id": 2
})";

}  // namespace

const Model& SyntheticQwen2() {
  static const auto* kDir = new medassist::testing::TempDir();
  static const Model* kModel = [] {
    const std::string config = kDir->WriteFile("config.json", kConfig);
    const std::string out = kDir->path() + "/model";
    Result<SynthModelSummary> made =
        SynthModelFolder({.config_path = config,
                          .out_dir = out,
                          .tokenizer_dir = MEDASSIST_TOKENIZER_ASSETS_DIR,
                          .dtype = formats::SafetensorsDtype::kBF16,
                          .seed = 7});
    CHECK(made.ok()) << made.status().ToString();
    Result<Model> model = Model::Open(out);
    CHECK(model.ok()) << model.status().ToString();
    return new Model(std::move(model.value()));
  }();
  return *kModel;
}

}  // namespace medassist::model::testing
