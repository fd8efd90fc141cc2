// The trained adapter between LibTorch tensors and model::LoraAdapter (model/lora_adapter.h), the
// PEFT layout the checkpoints and the final export are written in.
#pragma once

#include <string>

#include "core/status.h"
#include "model/lora_adapter.h"
#include "train/torch_qwen2.h"

namespace medassist::train {

// A copy of net's LoRA matrices (F32) with PEFT's config fields.
model::LoraAdapter ExportLora(const TorchQwen2& net, const std::string& base_model_name);

// Copies adapter's matrices into net's (which AddLora made with the same r and targets); refuses
// an adapter of another rank, target set or shape.
Status LoadLora(TorchQwen2& net, const model::LoraAdapter& adapter);

}  // namespace medassist::train
