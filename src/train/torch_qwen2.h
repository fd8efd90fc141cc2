// The Qwen2 / Llama decoder in LibTorch for training: the same architecture as model/forward.cc,
// built from the same memory-mapped weights (model::Model; torch::from_blob over the file's bytes
// when the stored type is the compute type, so a BF16 base costs no copy), with a LoRA adapter on
// any of the seven projections. Only the adapter is trainable.
//
//   per layer:  h += o(attn(rope(q(rms(h))), rope(k(rms(h))), v(rms(h))))
//               h += down(silu(gate(rms(h))) * up(rms(h)))
//   every projection:  y = x W^T + b + scale * (dropout(x) A^T) B^T     (LoraLinear::Forward)
//
// Batches are right-padded: causal attention keeps every real token from seeing the padding after
// it, so no padding mask is needed, and positions are 0..T-1 per row.
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/model.h"
#include "train/train_options.h"

namespace medassist::train {

enum class Projection { kQ, kK, kV, kO, kGate, kUp, kDown };
inline constexpr int kNumProjections = 7;
// "q_proj", ... (PEFT's target_modules names).
const char* ProjectionName(Projection p);

// Dropout masks that depend only on (seed, step, example, layer, projection), never on which
// micro-batch, rank or padding an example lands in: data-parallel and resumed runs then draw the
// same masks as a single uninterrupted run.
struct DropoutKeys {
  uint64_t seed = 0;
  int64_t step = 0;
  std::vector<int64_t> examples;  // one per batch row
  std::vector<int64_t> lengths;   // real tokens per row
};

struct LoraLinear {
  torch::Tensor weight;  // (d_out, d_in), frozen
  torch::Tensor bias;    // (d_out) or undefined, frozen
  torch::Tensor lora_a;  // (r, d_in), trainable; undefined when not targeted
  torch::Tensor lora_b;  // (d_out, r), trainable
  double scale = 0.0;
  double dropout = 0.0;

  bool has_lora() const { return lora_a.defined(); }
  // x (B, T, d_in) -> (B, T, d_out). keys: dropout masks when training with dropout > 0.
  torch::Tensor Forward(const torch::Tensor& x, const DropoutKeys* keys, uint64_t site) const;
};

struct TorchLayer {
  torch::Tensor attn_norm, ffn_norm;  // (d), frozen
  std::array<LoraLinear, kNumProjections> proj;
  LoraLinear& at(Projection p) { return proj[static_cast<int>(p)]; }
  const LoraLinear& at(Projection p) const { return proj[static_cast<int>(p)]; }
};

class TorchQwen2 {
 public:
  // base: an opened Hugging Face folder (GGUF's interleaved RoPE is refused: train from the
  // safetensors folder). matrix_type: the frozen matrices' type: kBFloat16 (--bf16 on), kFloat32,
  // or kFloat64 (the gradient check); norms and biases are float32 (float64 with kFloat64), and the
  // LoRA matrices float32 (float64).
  // device: where the model computes; the weights are copied there unless it is the CPU.
  static Result<TorchQwen2> FromModel(model::Model base, torch::ScalarType matrix_type,
                                      torch::Device device = torch::kCPU);

  // Adds A (Kaiming-uniform, as PEFT's reset_lora_parameters) and B = 0 to the targeted
  // projections, drawn from torch's generator seeded with `seed`: identical on every rank.
  void AddLora(const LoraOptions& lora, uint64_t seed);

  // ids (B, T) int64 -> final hidden states after the last RMSNorm (B, T, d), float32 (float64).
  torch::Tensor Hidden(const torch::Tensor& ids, const DropoutKeys* dropout) const;
  // hidden (N, d) -> logits (N, vocab), float32 (float64).
  torch::Tensor Logits(const torch::Tensor& hidden) const;

  std::vector<torch::Tensor> LoraParameters() const;  // A, B of each targeted projection in order
  const std::vector<TorchLayer>& layers() const { return layers_; }
  std::vector<TorchLayer>& layers() { return layers_; }
  const formats::ModelConfig& config() const { return base_.config(); }
  const model::Model& base() const { return base_; }
  const LoraOptions& lora() const { return lora_; }
  torch::Device device() const { return device_; }

 private:
  explicit TorchQwen2(model::Model base) : base_(std::move(base)) {}
  torch::Tensor Attention(const TorchLayer& layer, const torch::Tensor& x, const DropoutKeys* keys,
                          uint64_t layer_index) const;
  torch::Tensor Mlp(const TorchLayer& layer, const torch::Tensor& x, const DropoutKeys* keys,
                    uint64_t layer_index) const;
  torch::Tensor Rope(const torch::Tensor& x) const;  // (B, heads, T, head_dim)
  void MoveFrozenTo(torch::Device device);

  model::Model base_;  // owns the mapped files the frozen tensors point into
  torch::Tensor embedding_, final_norm_, output_;
  std::vector<TorchLayer> layers_;
  torch::Tensor inv_freq_;                          // (head_dim / 2) float32
  torch::ScalarType float_type_ = torch::kFloat32;  // activations, norms, LoRA
  torch::Device device_ = torch::kCPU;
  LoraOptions lora_;
};

// RMSNorm as Hugging Face Qwen2RMSNorm: in float32, then scaled by the weight.
torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

}  // namespace medassist::train
