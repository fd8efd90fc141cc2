// LoRA adapters in the layout Hugging Face PEFT saves (`model.save_pretrained(dir)` on a
// PeftModel):
//
//   DIR/adapter_config.json         {"peft_type": "LORA", "r": 16, "lora_alpha": 32.0, ...}
//   DIR/adapter_model.safetensors base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight
//                                   (r, d_in) and ...lora_B.weight (d_out, r); mlp.gate_proj etc.
//
// A projection W (d_out, d_in) becomes W' = W + scale * B @ A, scale = lora_alpha / r
// (lora_alpha / sqrt(r) with use_rslora), as PEFT's merge_and_unload computes it.
//
//   ASSIGN_OR_RETURN(LoraAdapter a, ReadPeftAdapter("adapters/medical"));
//   ASSIGN_OR_RETURN(LoraApplied applied, ApplyLoraAdapter(model, a, pool));
//
// Only the seven linear projections of a Qwen2 / Llama decoder layer are supported (PEFT's usual
// target_modules); an adapter of embed_tokens or lm_head, DoRA, trained biases or per-module ranks
// is refused by name when read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "formats/safetensors_types.h"
#include "model/model.h"

namespace medassist::model {

enum class LoraModule { kQProj, kKProj, kVProj, kOProj, kGateProj, kUpProj, kDownProj };
inline constexpr int kNumLoraModules = 7;

// "q_proj", ..., "down_proj" (the Hugging Face module names).
std::string_view LoraModuleName(LoraModule module);
// The inverse; nullopt for any other name.
std::optional<LoraModule> ParseLoraModule(std::string_view name);

// The fields of PEFT's LoraConfig that change the math or name the base.
struct LoraConfig {
  int r = 0;
  double lora_alpha = 0;
  double lora_dropout = 0;
  std::vector<std::string> target_modules = {};  // "q_proj", ... (no duplicates)
  std::string base_model_name_or_path = {};
  std::string task_type = "CAUSAL_LM";
  bool use_rslora = false;
};

// lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora.
double LoraScale(const LoraConfig& config);

// One adapted projection of one layer. F32, row-major, PyTorch's nn.Linear layout.
struct LoraMatrices {
  int layer = 0;
  LoraModule module = LoraModule::kQProj;
  int64_t d_in = 0;           // columns of W
  int64_t d_out = 0;          // rows of W
  std::vector<float> a = {};  // lora_A.weight (r, d_in)
  std::vector<float> b = {};  // lora_B.weight (d_out, r)
};

struct LoraAdapter {
  LoraConfig config = {};
  std::vector<LoraMatrices> matrices = {};  // sorted by (layer, module) after ReadPeftAdapter
};

// "base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight" (which: 'A' or 'B'), the name
// PEFT's get_peft_model_state_dict saves (the adapter name "default" removed).
std::string PeftTensorName(int layer, LoraModule module, char which);

// Writes DIR/adapter_config.json and DIR/adapter_model.safetensors (creating DIR), tensors stored
// as dtype (kF32 or kBF16). InvalidArgument when the adapter is inconsistent (a matrix whose size
// disagrees with r, d_in, d_out; a module not in target_modules; a repeated matrix), IoError when
// the files cannot be written.
Status WritePeftAdapter(const std::string& dir, const LoraAdapter& adapter,
                        formats::SafetensorsDtype dtype = formats::SafetensorsDtype::kF32);

// Reads a PEFT LoRA folder; tensors in F32, BF16 or F16 are widened to F32. Names with the adapter
// name kept (".lora_A.default.weight") are accepted. Every refusal names the file (and the tensor)
// and hints the fix: NotFound (a missing file), InvalidArgument (not LoRA, fan_in_fan_out, DoRA,
// trained biases, modules_to_save, per-module rank_pattern / alpha_pattern, an unsupported or
// unknown target module), DataLoss (an unknown tensor, a shape that disagrees with r, a lora_A
// without its lora_B, an element type other than F32/BF16/F16).
Result<LoraAdapter> ReadPeftAdapter(const std::string& dir);

// What ApplyLoraAdapter changed, for the log.
struct LoraApplied {
  size_t n_matrices = 0;
  std::vector<std::string> modules = {};  // the distinct modules adapted, in LoraModule order
  int r = 0;
  double scale = 0;
};

// Merges the adapter into model's weights: W' = W + scale * B @ A, computed in F32 and stored in
// each matrix's own type (F32/F16/BF16 rounded once; block-quantised rows dequantised, added and
// requantised with EncodeRow) in buffers the model owns. Every matrix's layer and shape are
// checked against the model before anything changes (InvalidArgument naming the tensor). A GGUF
// llama model's permuted q/k rows are handled. Rows are split over pool.
Result<LoraApplied> ApplyLoraAdapter(Model& model, const LoraAdapter& adapter, ThreadPool& pool);

}  // namespace medassist::model
