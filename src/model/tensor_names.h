// Tensor names of the two file layouts the project reads and writes. The model loader and the GGUF
// exporter use these, so the mapping lives in one place:
//
//   Hugging Face                                   GGUF (llama.cpp)
//   model.embed_tokens.weight                      token_embd.weight
//   model.layers.N.input_layernorm.weight          blk.N.attn_norm.weight
//   model.layers.N.self_attn.{q,k,v,o}_proj.X      blk.N.attn_{q,k,v,output}.X
//   model.layers.N.post_attention_layernorm.weight blk.N.ffn_norm.weight
//   model.layers.N.mlp.{gate,up,down}_proj.X       blk.N.ffn_{gate,up,down}.X
//   model.norm.weight                              output_norm.weight
//   lm_head.weight                                 output.weight
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace medassist::model {

// The GGUF name of a Hugging Face tensor name, or nullopt for a name outside the table.
std::optional<std::string> GgufTensorName(std::string_view hf_name);

}  // namespace medassist::model
