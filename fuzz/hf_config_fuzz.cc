// libFuzzer target for the Hugging Face config parsers. Any input is either refused with a Status
// or gives a config whose invariants hold (sizes positive and within limits, heads divisible, a
// positive parameter count); the sanitizers catch anything else.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "formats/hf_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = medassist::formats::ParseModelConfig(text, "<fuzz>/config.json");
  if (config.ok()) {
    const medassist::formats::ModelConfig& c = *config;
    bool sane = c.hidden_size > 0 && c.num_hidden_layers > 0 && c.num_attention_heads > 0 &&
                c.num_key_value_heads > 0 && c.num_attention_heads % c.num_key_value_heads == 0 &&
                c.head_dim > 0 && c.vocab_size > 0 && c.rms_norm_eps > 0 && c.rope_theta > 0 &&
                c.hidden_size <= medassist::formats::kMaxHiddenSize &&
                medassist::formats::CountParameters(c) > 0;
    if (!sane) std::abort();
    (void)medassist::formats::DescribeModelConfig(c);
  }
  auto gen = medassist::formats::ParseGenerationConfig(text, "<fuzz>/generation_config.json");
  if (gen.ok()) {
    for (int32_t id : gen->eos_token_id) {
      if (id < 0) std::abort();
    }
  }
  return 0;
}
