// The fast forward pass: the contract of ForwardReference (forward_reference.h), computed with the
// kernels layer. Every projection goes through kernels::Matmul with a dot kernel chosen once, here,
// for each weight's format and the CPU (DESIGN §3); attention runs per (row, head) over the pool.
//
//   ThreadPool pool(DefaultThreadCount());
//   Forward forward(model, pool);
//   RETURN_IF_ERROR(forward.Run(batch, kv, logits));
//
// Batch invariance (DESIGN §2b) holds within one Forward: each value is reduced in an order that
// depends only on its own row, so a sequence's logits are bit-identical alone, batched or chunked,
// and for any thread count. Versus ForwardReference the results differ by float rounding only
// (SIMD summation order); tests bound the difference.
//
// Buffers grow to the largest batch seen and are reused: after the first step of a given size, a
// step allocates nothing.
#pragma once

#include <span>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/dot.h"
#include "kernels/matmul.h"
#include "kernels/rms_norm.h"
#include "kernels/rope.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace medassist::model {

class Forward {
 public:
  struct Options {
    kernels::Isa isa = kernels::BestIsa();
    // Run ForwardReference instead (the scalar oracle; for comparisons and --reference).
    bool reference = false;
  };
  // model and pool must outlive the Forward.
  Forward(const Model& model, ThreadPool& pool, const Options& options);
  Forward(const Model& model, ThreadPool& pool) : Forward(model, pool, Options{}) {}

  // Same contract and errors as ForwardReference.
  Status Run(const Batch& batch, KvCache& kv, std::span<float> logits_out);

  kernels::Isa isa() const { return isa_; }
  bool reference() const { return reference_; }

 private:
  // A projection: its weight and the dot kernel chosen for the weight's format.
  struct Linear {
    const Weight* weight = nullptr;
    const Weight* bias = nullptr;
    const kernels::DotKernel* kernel = nullptr;
  };
  struct LayerLinears {
    Linear q, k, v, o, gate, up, down;
  };
  // A layer's RMSNorm weights, converted to float once.
  struct LayerNorms {
    std::vector<float> attn, ffn;
  };

  Linear MakeLinear(const Weight& weight, const Weight& bias) const;
  // y (n, d_out) = x (n, d_in) @ W^T + b.
  void Project(const Linear& linear, const float* x, int64_t n, float* y);
  void Layer(int64_t layer, const Batch& batch, KvCache& kv);
  void Attention(int64_t layer, const Batch& batch, const KvCache& kv);
  void Grow(int64_t n_rows);
  // y (n, d) = RMSNorm of each row of x (n, d) with weight (d,).
  void RmsNorm(const float* x, const std::vector<float>& weight, int64_t n, float* y) const;
  // RoPE of each row's q and k heads, with the row's table (RopeTables).
  void Rope(int64_t n);
  // rope_cos_, rope_sin_: the table of each batch row's position, for every layer.
  void RopeTables(const Batch& batch);

  const Model& model_;
  ThreadPool& pool_;
  kernels::Isa isa_;
  bool reference_;
  kernels::AttentionGroupFn attention_;
  kernels::SiluGateFn silu_gate_;
  kernels::RmsNormFn rms_norm_;
  kernels::RopeFn rope_;
  std::vector<LayerLinears> layers_;
  std::vector<LayerNorms> norms_;
  std::vector<float> final_norm_;
  Linear output_;
  kernels::MatmulWorkspace workspace_;
  // Activations, (rows, width) row-major; sized for the largest batch so far.
  std::vector<float> x_, h_, q_, k_, v_, attn_, gate_, up_, selected_;
  // (rows, head_dim / 2): cos and sin of each row's RoPE angles.
  std::vector<float> rope_cos_, rope_sin_;
};

}  // namespace medassist::model
