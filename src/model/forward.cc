#include "model/forward.h"

#include <algorithm>
#include <cmath>

#include "model/forward_reference.h"

namespace medassist::model {
namespace {

template <typename T>
void GrowTo(std::vector<T>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
}

// A norm weight vector (d,) as float.
std::vector<float> ToFloat(const Weight& w) {
  std::vector<float> out(static_cast<size_t>(w.n_elements()));
  for (int64_t i = 0; i < w.n_elements(); ++i) out[static_cast<size_t>(i)] = w.At(i);
  return out;
}

kernels::RopePairs PairsOf(RopeStyle style) {
  return style == RopeStyle::kRotateHalf ? kernels::RopePairs::kRotateHalf
                                         : kernels::RopePairs::kInterleaved;
}

}  // namespace

Forward::Forward(const Model& model, ThreadPool& pool, const Options& options)
    : model_(model),
      pool_(pool),
      isa_(options.isa),
      reference_(options.reference),
      attention_(kernels::SelectAttentionGroup(options.isa)),
      silu_gate_(kernels::SelectSiluGate(options.isa)),
      rms_norm_(kernels::SelectRmsNorm(options.isa)),
      rope_(kernels::SelectRope(options.isa, PairsOf(model.rope_style()))) {
  const ModelWeights& w = model.weights();
  for (const LayerWeights& l : w.layers) {
    layers_.push_back({MakeLinear(l.wq, l.bq), MakeLinear(l.wk, l.bk), MakeLinear(l.wv, l.bv),
                       MakeLinear(l.wo, l.bo), MakeLinear(l.w_gate, l.b_gate),
                       MakeLinear(l.w_up, l.b_up), MakeLinear(l.w_down, l.b_down)});
    norms_.push_back({ToFloat(l.attn_norm), ToFloat(l.ffn_norm)});
  }
  final_norm_ = ToFloat(w.final_norm);
  output_ = MakeLinear(w.output, Weight{});
}

Forward::Linear Forward::MakeLinear(const Weight& weight, const Weight& bias) const {
  return {&weight, bias.present() ? &bias : nullptr, &kernels::SelectDotKernel(weight.type, isa_)};
}

void Forward::Project(const Linear& linear, const float* x, int64_t n, float* y) {
  const Weight& w = *linear.weight;
  kernels::Matmul(pool_, *linear.kernel, w.data, w.rows, w.cols, x, n, y, workspace_);
  if (linear.bias == nullptr) return;
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t o = 0; o < w.rows; ++o) y[r * w.rows + o] += linear.bias->At(o);
  }
}

void Forward::Grow(int64_t n) {
  const formats::ModelConfig& c = model_.config();
  GrowTo(x_, n * c.hidden_size);
  GrowTo(h_, n * c.hidden_size);
  GrowTo(q_, n * c.q_dim());
  GrowTo(k_, n * c.kv_dim());
  GrowTo(v_, n * c.kv_dim());
  GrowTo(attn_, n * c.q_dim());
  GrowTo(gate_, n * c.intermediate_size);
  GrowTo(up_, n * c.intermediate_size);
  GrowTo(selected_, n * c.hidden_size);
  GrowTo(rope_cos_, n * (c.head_dim / 2));
  GrowTo(rope_sin_, n * (c.head_dim / 2));
}

void Forward::RmsNorm(const float* x, const std::vector<float>& weight, int64_t n, float* y) const {
  const int64_t d = model_.config().hidden_size;
  const float eps = static_cast<float>(model_.config().rms_norm_eps);
  for (int64_t r = 0; r < n; ++r) rms_norm_(x + r * d, weight.data(), eps, d, y + r * d);
}

void Forward::RopeTables(const Batch& batch) {
  const formats::ModelConfig& c = model_.config();
  const int64_t half = c.head_dim / 2;
  for (int64_t r = 0; r < static_cast<int64_t>(batch.rows.size()); ++r) {
    kernels::RopeTable(batch.rows[static_cast<size_t>(r)].pos, c.head_dim, c.rope_theta,
                       &rope_cos_[r * half], &rope_sin_[r * half]);
  }
}

void Forward::Rope(int64_t n) {
  const formats::ModelConfig& c = model_.config();
  const int64_t half = c.head_dim / 2;
  for (int64_t r = 0; r < n; ++r) {
    const float* cos = &rope_cos_[r * half];
    const float* sin = &rope_sin_[r * half];
    rope_(&q_[r * c.q_dim()], c.num_attention_heads, c.head_dim, cos, sin);
    rope_(&k_[r * c.kv_dim()], c.num_key_value_heads, c.head_dim, cos, sin);
  }
}

// Causal attention of every row over positions 0..pos of its sequence, one task per (row, KV
// head) split over the pool: the query heads that share a KV head (GQA) go to the kernel together,
// so each key and value is loaded once for the whole group. The kernel's order of operations
// depends only on the row, so the result does not depend on the batch or the split.
void Forward::Attention(int64_t layer, const Batch& batch, const KvCache& kv) {
  const formats::ModelConfig& c = model_.config();
  const int64_t head_dim = c.head_dim;
  const int64_t n_kv_heads = c.num_key_value_heads;
  const int64_t group = c.num_attention_heads / n_kv_heads;
  const int32_t block_size = kv.shape().block_size;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const int64_t n_tasks = static_cast<int64_t>(batch.rows.size()) * n_kv_heads;
  pool_.ParallelFor(n_tasks, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> scores;
    thread_local std::vector<const void*> k_blocks, v_blocks;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t r = task / n_kv_heads;
      const int64_t kv_head = task % n_kv_heads;
      const BatchRow& row = batch.rows[static_cast<size_t>(r)];
      const std::vector<int32_t>& table = batch.block_tables[static_cast<size_t>(row.seq)];
      const int64_t n_pos = row.pos + 1;
      const int64_t n_blocks = (n_pos + block_size - 1) / block_size;
      const int64_t head_offset = kv_head * head_dim * kv.shape().element_bytes();
      GrowTo(scores, group * n_pos);
      GrowTo(k_blocks, n_blocks);
      GrowTo(v_blocks, n_blocks);
      for (int64_t b = 0; b < n_blocks; ++b) {
        // Byte offsets: the head's first element in the slot.
        k_blocks[b] = static_cast<const uint8_t*>(kv.KeyData(table[b], layer, 0)) + head_offset;
        v_blocks[b] = static_cast<const uint8_t*>(kv.ValueData(table[b], layer, 0)) + head_offset;
      }
      const int64_t q_offset = r * c.q_dim() + kv_head * group * head_dim;
      attention_({.q = &q_[static_cast<size_t>(q_offset)],
                  .group = group,
                  .head_dim = head_dim,
                  .k_blocks = k_blocks.data(),
                  .v_blocks = v_blocks.data(),
                  .kv_stride = c.kv_dim(),
                  .kv_f16 = kv.type() == KvType::kF16,
                  .block_size = block_size,
                  .n_pos = n_pos,
                  .scale = scale,
                  .scores = scores.data(),
                  .out = &attn_[static_cast<size_t>(q_offset)]});
    }
  });
}

void Forward::Layer(int64_t layer, const Batch& batch, KvCache& kv) {
  const formats::ModelConfig& c = model_.config();
  const LayerNorms& norms = norms_[static_cast<size_t>(layer)];
  const LayerLinears& lin = layers_[static_cast<size_t>(layer)];
  const int64_t n = static_cast<int64_t>(batch.rows.size());
  const int64_t d = c.hidden_size;

  // Attention block.
  RmsNorm(x_.data(), norms.attn, n, h_.data());
  Project(lin.q, h_.data(), n, q_.data());
  Project(lin.k, h_.data(), n, k_.data());
  Project(lin.v, h_.data(), n, v_.data());
  Rope(n);
  for (int64_t r = 0; r < n; ++r) {
    const BatchRow& row = batch.rows[static_cast<size_t>(r)];
    const int32_t block = batch.block_tables[static_cast<size_t>(row.seq)]
                                            [static_cast<size_t>(row.pos / kv.shape().block_size)];
    const int32_t slot = row.pos % kv.shape().block_size;
    kv.Store(block, layer, slot, &k_[r * c.kv_dim()], &v_[r * c.kv_dim()]);
  }
  Attention(layer, batch, kv);
  Project(lin.o, attn_.data(), n, h_.data());
  for (int64_t i = 0; i < n * d; ++i) x_[i] += h_[i];

  // SwiGLU MLP block: down(silu(gate(h)) * up(h)).
  RmsNorm(x_.data(), norms.ffn, n, h_.data());
  Project(lin.gate, h_.data(), n, gate_.data());
  Project(lin.up, h_.data(), n, up_.data());
  const int64_t d_ff = c.intermediate_size;
  pool_.ParallelFor(n, [&](int64_t begin, int64_t end) {
    silu_gate_(&gate_[begin * d_ff], &up_[begin * d_ff], (end - begin) * d_ff);
  });
  Project(lin.down, gate_.data(), n, h_.data());
  for (int64_t i = 0; i < n * d; ++i) x_[i] += h_[i];
}

Status Forward::Run(const Batch& batch, KvCache& kv, std::span<float> logits_out) {
  if (reference_) return ForwardReference(model_, batch, kv, logits_out);
  RETURN_IF_ERROR(CheckForwardInputs(model_, batch, kv, logits_out));
  const formats::ModelConfig& c = model_.config();
  const int64_t d = c.hidden_size;
  const int64_t n = static_cast<int64_t>(batch.rows.size());
  Grow(n);
  for (int64_t r = 0; r < n; ++r) {
    model_.weights().token_embedding.RowToFloat(batch.rows[static_cast<size_t>(r)].token,
                                                &x_[r * d]);
  }
  RopeTables(batch);  // the angles depend on the position only: once for all layers
  for (int64_t layer = 0; layer < c.num_hidden_layers; ++layer) Layer(layer, batch, kv);

  // Final norm and output head, only for the rows that asked for logits.
  int64_t n_logits = 0;
  for (int64_t r = 0; r < n; ++r) {
    if (!batch.rows[static_cast<size_t>(r)].logits) continue;
    std::copy_n(&x_[r * d], d, &selected_[n_logits * d]);
    ++n_logits;
  }
  if (n_logits == 0) return Status::Ok();
  RmsNorm(selected_.data(), final_norm_, n_logits, h_.data());
  Project(output_, h_.data(), n_logits, logits_out.data());
  return Status::Ok();
}

}  // namespace medassist::model
