#include "model/forward_reference.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/rms_norm.h"
#include "kernels/rope.h"

namespace medassist::model {
namespace {

// Activations are row-major (n_rows, width) float buffers, one row per batch row.
using Activations = std::vector<float>;

// W (d_out, d_in) @ x_r (d_in,) + b (d_out,) -> y_r (d_out,) for each of n_rows rows. Each output
// is one dot product over the inner dimension in index order, then the bias: the same bits for a
// row whatever the other rows are.
void MatmulNaive(const Weight& w, const Weight& bias, const float* x, int64_t n_rows, float* y) {
  std::vector<float> w_row(static_cast<size_t>(w.cols));
  for (int64_t o = 0; o < w.rows; ++o) {
    w.RowToFloat(o, w_row.data());
    const float b = bias.present() ? bias.At(o) : 0.0f;
    for (int64_t r = 0; r < n_rows; ++r) {
      const float* x_r = x + r * w.cols;
      float sum = 0.0f;
      for (int64_t i = 0; i < w.cols; ++i) sum += w_row[static_cast<size_t>(i)] * x_r[i];
      y[r * w.rows + o] = sum + b;
    }
  }
}

struct AttentionShape {
  int64_t n_heads, n_kv_heads, head_dim;
};

// Causal attention of one row's queries (n_heads * head_dim) over positions 0..pos of its
// sequence, read from the KV blocks in position order. Grouped-query: query head h reads KV head
// h / (n_heads / n_kv_heads). out: n_heads * head_dim.
void AttentionNaive(const float* q, const KvCache& kv, int64_t layer,
                    const std::vector<int32_t>& block_table, int32_t pos,
                    const AttentionShape& shape, float* out) {
  const int32_t block_size = kv.shape().block_size;
  const int64_t group = shape.n_heads / shape.n_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(shape.head_dim));
  std::vector<float> probs(static_cast<size_t>(pos) + 1);
  std::vector<float> k(static_cast<size_t>(shape.head_dim)), v(k.size());
  for (int64_t h = 0; h < shape.n_heads; ++h) {
    const float* q_h = q + h * shape.head_dim;
    const int64_t kv_offset = (h / group) * shape.head_dim;
    float max_score = -INFINITY;
    for (int32_t t = 0; t <= pos; ++t) {
      kv.LoadKey(block_table[t / block_size], layer, t % block_size, kv_offset, shape.head_dim,
                 k.data());
      float dot = 0.0f;
      for (int64_t i = 0; i < shape.head_dim; ++i) dot += q_h[i] * k[i];
      probs[static_cast<size_t>(t)] = dot * scale;
      max_score = std::max(max_score, dot * scale);
    }
    float sum = 0.0f;
    for (float& p : probs) {
      p = std::exp(p - max_score);
      sum += p;
    }
    float* out_h = out + h * shape.head_dim;
    for (int64_t i = 0; i < shape.head_dim; ++i) out_h[i] = 0.0f;
    for (int32_t t = 0; t <= pos; ++t) {
      kv.LoadValue(block_table[t / block_size], layer, t % block_size, kv_offset, shape.head_dim,
                   v.data());
      const float p = probs[static_cast<size_t>(t)] / sum;
      for (int64_t i = 0; i < shape.head_dim; ++i) out_h[i] += p * v[i];
    }
  }
}

float SiluNaive(float x) { return x / (1.0f + std::exp(-x)); }

// RMSNorm of each row of x (n_rows, d) by the scalar reference kernel (the contract the fast pass
// shares, kernels/rms_norm.h).
void RmsNormNaive(const float* x, const Weight& weight, float eps, int64_t n_rows, int64_t d,
                  float* out) {
  std::vector<float> w(static_cast<size_t>(d));
  for (int64_t i = 0; i < d; ++i) w[static_cast<size_t>(i)] = weight.At(i);
  for (int64_t r = 0; r < n_rows; ++r) {
    kernels::RmsNormScalar(x + r * d, w.data(), eps, d, out + r * d);
  }
}

// RoPE of one row's heads x (n_heads, head_dim) at position pos by the scalar reference kernels.
void RopeNaive(float* x, int64_t n_heads, int64_t head_dim, int32_t pos, double theta,
               RopeStyle style) {
  std::vector<float> cos(static_cast<size_t>(head_dim / 2)), sin(cos.size());
  kernels::RopeTable(pos, head_dim, theta, cos.data(), sin.data());
  const kernels::RopePairs pairs = style == RopeStyle::kRotateHalf
                                       ? kernels::RopePairs::kRotateHalf
                                       : kernels::RopePairs::kInterleaved;
  kernels::SelectRope(kernels::Isa::kScalar, pairs)(x, n_heads, head_dim, cos.data(), sin.data());
}

}  // namespace

Status CheckForwardInputs(const Model& model, const Batch& batch, const KvCache& kv,
                          std::span<float> logits_out) {
  const formats::ModelConfig& c = model.config();
  const KvCacheShape& shape = kv.shape();
  if (shape.n_layers != c.num_hidden_layers || shape.kv_dim != c.kv_dim()) {
    return InvalidArgument("KV cache has " + std::to_string(shape.n_layers) + " layers of width " +
                           std::to_string(shape.kv_dim) + "; the model needs " +
                           std::to_string(c.num_hidden_layers) + " of " +
                           std::to_string(c.kv_dim()));
  }
  RETURN_IF_ERROR(ValidateBatch(batch, {c.vocab_size, c.max_position_embeddings}, shape));
  const int64_t want = batch.n_logit_rows() * c.vocab_size;
  if (static_cast<int64_t>(logits_out.size()) != want) {
    return InvalidArgument("logits buffer holds " + std::to_string(logits_out.size()) +
                           " floats; the batch needs " + std::to_string(want));
  }
  return Status::Ok();
}

namespace {

// One decoder layer over all rows of x (n_rows, d), in place.
void LayerNaive(const Model& model, int64_t layer, const Batch& batch, KvCache& kv,
                Activations& x) {
  const formats::ModelConfig& c = model.config();
  const LayerWeights& w = model.weights().layers[static_cast<size_t>(layer)];
  const int64_t n = static_cast<int64_t>(batch.rows.size());
  const int64_t d = c.hidden_size;
  const float eps = static_cast<float>(c.rms_norm_eps);
  Activations h(x.size()), q(n * c.q_dim()), k(n * c.kv_dim()), v(n * c.kv_dim());
  Activations attn(n * c.q_dim()), gate(n * c.intermediate_size), up(n * c.intermediate_size);

  // Attention block.
  RmsNormNaive(x.data(), w.attn_norm, eps, n, d, h.data());
  MatmulNaive(w.wq, w.bq, h.data(), n, q.data());
  MatmulNaive(w.wk, w.bk, h.data(), n, k.data());
  MatmulNaive(w.wv, w.bv, h.data(), n, v.data());
  for (int64_t r = 0; r < n; ++r) {
    const BatchRow& row = batch.rows[static_cast<size_t>(r)];
    RopeNaive(&q[r * c.q_dim()], c.num_attention_heads, c.head_dim, row.pos, c.rope_theta,
              model.rope_style());
    RopeNaive(&k[r * c.kv_dim()], c.num_key_value_heads, c.head_dim, row.pos, c.rope_theta,
              model.rope_style());
    const int32_t block = batch.block_tables[static_cast<size_t>(row.seq)]
                                            [static_cast<size_t>(row.pos / kv.shape().block_size)];
    const int32_t slot = row.pos % kv.shape().block_size;
    kv.Store(block, layer, slot, &k[r * c.kv_dim()], &v[r * c.kv_dim()]);
  }
  // All rows' K/V are in the cache before any row attends: a prompt chunk sees itself.
  const AttentionShape shape{c.num_attention_heads, c.num_key_value_heads, c.head_dim};
  for (int64_t r = 0; r < n; ++r) {
    const BatchRow& row = batch.rows[static_cast<size_t>(r)];
    AttentionNaive(&q[r * c.q_dim()], kv, layer, batch.block_tables[static_cast<size_t>(row.seq)],
                   row.pos, shape, &attn[r * c.q_dim()]);
  }
  MatmulNaive(w.wo, w.bo, attn.data(), n, h.data());
  for (size_t i = 0; i < x.size(); ++i) x[i] += h[i];

  // SwiGLU MLP block: down(silu(gate(h)) * up(h)).
  RmsNormNaive(x.data(), w.ffn_norm, eps, n, d, h.data());
  MatmulNaive(w.w_gate, w.b_gate, h.data(), n, gate.data());
  MatmulNaive(w.w_up, w.b_up, h.data(), n, up.data());
  for (size_t i = 0; i < gate.size(); ++i) gate[i] = SiluNaive(gate[i]) * up[i];
  MatmulNaive(w.w_down, w.b_down, gate.data(), n, h.data());
  for (size_t i = 0; i < x.size(); ++i) x[i] += h[i];
}

}  // namespace

Status ForwardReference(const Model& model, const Batch& batch, KvCache& kv,
                        std::span<float> logits_out) {
  RETURN_IF_ERROR(CheckForwardInputs(model, batch, kv, logits_out));
  const formats::ModelConfig& c = model.config();
  const ModelWeights& w = model.weights();
  const int64_t d = c.hidden_size;
  const int64_t n = static_cast<int64_t>(batch.rows.size());

  Activations x(static_cast<size_t>(n * d));
  for (int64_t r = 0; r < n; ++r) {
    w.token_embedding.RowToFloat(batch.rows[static_cast<size_t>(r)].token, &x[r * d]);
  }
  for (int64_t layer = 0; layer < c.num_hidden_layers; ++layer) {
    LayerNaive(model, layer, batch, kv, x);
  }
  // Final norm and output head, only for the rows that asked for logits.
  Activations selected;
  for (int64_t r = 0; r < n; ++r) {
    if (!batch.rows[static_cast<size_t>(r)].logits) continue;
    selected.insert(selected.end(), x.begin() + r * d, x.begin() + (r + 1) * d);
  }
  const int64_t n_logits = batch.n_logit_rows();
  if (n_logits == 0) return Status::Ok();
  Activations normed(selected.size());
  RmsNormNaive(selected.data(), w.final_norm, static_cast<float>(c.rms_norm_eps), n_logits, d,
               normed.data());
  MatmulNaive(w.output, Weight{}, normed.data(), n_logits, logits_out.data());
  return Status::Ok();
}

}  // namespace medassist::model
