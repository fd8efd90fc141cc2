#include "model/tensor_names.h"

#include <gtest/gtest.h>

namespace medassist::model {
namespace {

TEST(GgufTensorName, MapsGlobalAndLayerTensors) {
  EXPECT_EQ(GgufTensorName("model.embed_tokens.weight"), "token_embd.weight");
  EXPECT_EQ(GgufTensorName("model.norm.weight"), "output_norm.weight");
  EXPECT_EQ(GgufTensorName("lm_head.weight"), "output.weight");
  EXPECT_EQ(GgufTensorName("model.layers.0.input_layernorm.weight"), "blk.0.attn_norm.weight");
  EXPECT_EQ(GgufTensorName("model.layers.12.self_attn.q_proj.bias"), "blk.12.attn_q.bias");
  EXPECT_EQ(GgufTensorName("model.layers.3.self_attn.o_proj.weight"), "blk.3.attn_output.weight");
  EXPECT_EQ(GgufTensorName("model.layers.35.post_attention_layernorm.weight"),
            "blk.35.ffn_norm.weight");
  EXPECT_EQ(GgufTensorName("model.layers.7.mlp.down_proj.weight"), "blk.7.ffn_down.weight");
}

TEST(GgufTensorName, RefusesNamesOutsideTheTable) {
  for (const char* name :
       {"", "model.layers..mlp.up_proj.weight", "model.layers.01.mlp.up_proj.weight",
        "model.layers.1.mlp.up_proj", "model.layers.1.mlp.up_proj.weightx",
        "model.layers.1.self_attn.rotary_emb.inv_freq", "model.layers.x.mlp.up_proj.weight",
        "lm_head.bias"}) {
    EXPECT_FALSE(GgufTensorName(name).has_value()) << name;
  }
}

}  // namespace
}  // namespace medassist::model
