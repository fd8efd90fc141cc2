#include "train/torch_qwen2.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

namespace medassist::train {
namespace {

using model::Weight;
using model::WeightType;

uint64_t Mix64(uint64_t x) {  // SplitMix64's finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A view of the mapped bytes when the type and alignment allow it, else a copy (dequantised for
// block types). Vectors (norms, biases) come back as (cols) float32.
torch::Tensor WeightTensor(const Weight& w, torch::ScalarType matrix_type, bool vector) {
  std::vector<int64_t> shape =
      vector ? std::vector<int64_t>{w.cols} : std::vector<int64_t>{w.rows, w.cols};
  const torch::ScalarType target =
      vector ? (matrix_type == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32) : matrix_type;
  torch::ScalarType stored;
  switch (w.type) {
    case WeightType::kF32:
      stored = torch::kFloat32;
      break;
    case WeightType::kBF16:
      stored = torch::kBFloat16;
      break;
    case WeightType::kF16:
      stored = torch::kFloat16;
      break;
    default: {  // block-quantised: dequantise row by row
      torch::Tensor out = torch::empty({w.rows, w.cols}, torch::kFloat32);
      for (int64_t r = 0; r < w.rows; ++r) w.RowToFloat(r, out.data_ptr<float>() + r * w.cols);
      return out.view(shape).to(target);
    }
  }
  const size_t element = torch::elementSize(stored);
  auto* bytes = const_cast<uint8_t*>(w.data);  // frozen: never written through
  torch::Tensor t;
  if (reinterpret_cast<uintptr_t>(bytes) % element == 0) {
    t = torch::from_blob(bytes, shape, torch::TensorOptions().dtype(stored));
  } else {
    t = torch::empty(shape, torch::TensorOptions().dtype(stored));
    std::memcpy(t.data_ptr(), bytes, static_cast<size_t>(w.n_elements()) * element);
  }
  return stored == target ? t : t.to(target);
}

LoraLinear MakeProjection(const Weight& w, const Weight& b, torch::ScalarType matrix_type) {
  LoraLinear p;
  p.weight = WeightTensor(w, matrix_type, /*vector=*/false);
  if (b.present()) p.bias = WeightTensor(b, matrix_type, /*vector=*/true);
  return p;
}

torch::Tensor RotateHalf(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// (B, T, d_in) mask of kept/(1-p) values, zero over each row's padding.
torch::Tensor DropoutMask(const DropoutKeys& keys, uint64_t site, int64_t T, int64_t d_in,
                          double p) {
  torch::Tensor mask = torch::zeros({static_cast<int64_t>(keys.examples.size()), T, d_in});
  // bernoulli_ over each row's own length: the mask never depends on the batch's padding.
  for (size_t b = 0; b < keys.examples.size(); ++b) {
    const uint64_t key = Mix64(Mix64(Mix64(keys.seed ^ static_cast<uint64_t>(keys.step)) +
                                     static_cast<uint64_t>(keys.examples[b])) +
                               site);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(key);
    mask[static_cast<int64_t>(b)].narrow(0, 0, keys.lengths[b]).bernoulli_(1.0 - p, gen);
  }
  return mask.div_(1.0 - p);
}

}  // namespace

const char* ProjectionName(Projection p) {
  static constexpr const char* kNames[] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                           "gate_proj", "up_proj", "down_proj"};
  return kNames[static_cast<int>(p)];
}

torch::Tensor LoraLinear::Forward(const torch::Tensor& x, const DropoutKeys* keys,
                                  uint64_t site) const {
  torch::Tensor y = torch::linear(x, weight, bias);
  if (!has_lora()) return y;
  torch::Tensor xd = x;
  if (dropout > 0 && keys != nullptr) {
    // Drawn on the CPU (the same masks whatever the device), then moved.
    xd =
        x * DropoutMask(*keys, site, x.size(1), x.size(2), dropout).to(x.device(), x.scalar_type());
  }
  return y + torch::linear(torch::linear(xd, lora_a), lora_b) * scale;
}

torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  torch::Tensor xf = x.to(weight.scalar_type());
  torch::Tensor variance = xf.pow(2).mean(-1, /*keepdim=*/true);
  return weight * (xf * torch::rsqrt(variance + eps));
}

Result<TorchQwen2> TorchQwen2::FromModel(model::Model base, torch::ScalarType matrix_type,
                                         torch::Device device) {
  if (base.format() != model::ModelFormat::kHfSafetensors) {
    return InvalidArgument(fmt::format(
        "{}: training needs the Hugging Face safetensors folder of the base model, not a GGUF file",
        base.path()));
  }
  TorchQwen2 net(std::move(base));
  const model::ModelWeights& w = net.base_.weights();
  net.float_type_ = matrix_type == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  net.device_ = device;
  net.embedding_ = WeightTensor(w.token_embedding, matrix_type, false);
  net.output_ = w.output.data == w.token_embedding.data
                    ? net.embedding_
                    : WeightTensor(w.output, matrix_type, false);
  net.final_norm_ = WeightTensor(w.final_norm, matrix_type, true);
  for (const model::LayerWeights& lw : w.layers) {
    TorchLayer layer;
    layer.attn_norm = WeightTensor(lw.attn_norm, matrix_type, true);
    layer.ffn_norm = WeightTensor(lw.ffn_norm, matrix_type, true);
    layer.at(Projection::kQ) = MakeProjection(lw.wq, lw.bq, matrix_type);
    layer.at(Projection::kK) = MakeProjection(lw.wk, lw.bk, matrix_type);
    layer.at(Projection::kV) = MakeProjection(lw.wv, lw.bv, matrix_type);
    layer.at(Projection::kO) = MakeProjection(lw.wo, lw.bo, matrix_type);
    layer.at(Projection::kGate) = MakeProjection(lw.w_gate, lw.b_gate, matrix_type);
    layer.at(Projection::kUp) = MakeProjection(lw.w_up, lw.b_up, matrix_type);
    layer.at(Projection::kDown) = MakeProjection(lw.w_down, lw.b_down, matrix_type);
    net.layers_.push_back(std::move(layer));
  }
  // Hugging Face's default RoPE: 1 / theta^(2i / head_dim), in float32.
  const int64_t head_dim = net.config().head_dim;
  net.inv_freq_ =
      1.0 / torch::pow(net.config().rope_theta,
                       torch::arange(0, head_dim, 2, torch::kInt64).to(torch::kFloat32) /
                           static_cast<double>(head_dim))
                .to(net.float_type_);
  if (!device.is_cpu()) net.MoveFrozenTo(device);
  return net;
}

void TorchQwen2::MoveFrozenTo(torch::Device device) {
  embedding_ = embedding_.to(device);
  output_ = output_.to(device);
  final_norm_ = final_norm_.to(device);
  inv_freq_ = inv_freq_.to(device);
  for (TorchLayer& layer : layers_) {
    layer.attn_norm = layer.attn_norm.to(device);
    layer.ffn_norm = layer.ffn_norm.to(device);
    for (LoraLinear& proj : layer.proj) {
      proj.weight = proj.weight.to(device);
      if (proj.bias.defined()) proj.bias = proj.bias.to(device);
    }
  }
}

void TorchQwen2::AddLora(const LoraOptions& lora, uint64_t seed) {
  lora_ = lora;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const double scale = lora.rslora ? lora.alpha / std::sqrt(static_cast<double>(lora.r))
                                   : lora.alpha / static_cast<double>(lora.r);
  for (TorchLayer& layer : layers_) {
    for (int p = 0; p < kNumProjections; ++p) {
      const std::string name = ProjectionName(static_cast<Projection>(p));
      if (std::find(lora.targets.begin(), lora.targets.end(), name) == lora.targets.end()) continue;
      LoraLinear& proj = layer.proj[p];
      const int64_t d_out = proj.weight.size(0), d_in = proj.weight.size(1);
      // kaiming_uniform_(a = sqrt(5)): bound = sqrt(6 / ((1 + a^2) * fan_in)) = 1 / sqrt(fan_in).
      const double bound = 1.0 / std::sqrt(static_cast<double>(d_in));
      // Drawn on the CPU's generator (the same A on every device), then moved.
      proj.lora_a = torch::empty({lora.r, d_in}, float_type_)
                        .uniform_(-bound, bound, gen)
                        .to(device_)
                        .requires_grad_(true);
      proj.lora_b =
          torch::zeros({d_out, lora.r}, torch::TensorOptions().dtype(float_type_).device(device_))
              .requires_grad_(true);
      proj.scale = scale;
      proj.dropout = lora.dropout;
    }
  }
}

std::vector<torch::Tensor> TorchQwen2::LoraParameters() const {
  std::vector<torch::Tensor> params;
  for (const TorchLayer& layer : layers_) {
    for (const LoraLinear& proj : layer.proj) {
      if (!proj.has_lora()) continue;
      params.push_back(proj.lora_a);
      params.push_back(proj.lora_b);
    }
  }
  return params;
}

torch::Tensor TorchQwen2::Rope(const torch::Tensor& x) const {
  const int64_t T = x.size(2);
  torch::Tensor freqs = torch::outer(
      torch::arange(T, torch::TensorOptions().dtype(float_type_).device(device_)), inv_freq_);
  torch::Tensor emb = torch::cat({freqs, freqs}, -1);  // (T, head_dim)
  torch::Tensor xf = x.to(float_type_);
  return xf * emb.cos() + RotateHalf(xf) * emb.sin();
}

torch::Tensor TorchQwen2::Attention(const TorchLayer& layer, const torch::Tensor& x,
                                    const DropoutKeys* keys, uint64_t layer_index) const {
  const int64_t B = x.size(0), T = x.size(1);
  const int64_t n_heads = config().num_attention_heads, n_kv = config().num_key_value_heads;
  const int64_t hd = config().head_dim;
  const uint64_t site = layer_index * kNumProjections;
  torch::Tensor q = layer.at(Projection::kQ).Forward(x, keys, site + 0).view({B, T, n_heads, hd});
  torch::Tensor k = layer.at(Projection::kK).Forward(x, keys, site + 1).view({B, T, n_kv, hd});
  torch::Tensor v = layer.at(Projection::kV).Forward(x, keys, site + 2).view({B, T, n_kv, hd});
  q = Rope(q.transpose(1, 2));
  k = Rope(k.transpose(1, 2));
  v = v.transpose(1, 2);
  if (n_kv != n_heads) {  // GQA: query head h reads kv head h / (n_heads / n_kv)
    k = k.repeat_interleave(n_heads / n_kv, 1);
    v = v.repeat_interleave(n_heads / n_kv, 1);
  }
  torch::Tensor scores =
      torch::matmul(q, k.transpose(-2, -1)).to(float_type_) / std::sqrt(static_cast<double>(hd));
  torch::Tensor future =
      torch::ones({T, T}, torch::TensorOptions().dtype(torch::kBool).device(device_)).triu(1);
  scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
  torch::Tensor probs = torch::softmax(scores, -1).to(v.scalar_type());
  torch::Tensor out = torch::matmul(probs, v).transpose(1, 2).reshape({B, T, n_heads * hd});
  return layer.at(Projection::kO).Forward(out, keys, site + 3);
}

torch::Tensor TorchQwen2::Mlp(const TorchLayer& layer, const torch::Tensor& x,
                              const DropoutKeys* keys, uint64_t layer_index) const {
  const uint64_t site = layer_index * kNumProjections;
  torch::Tensor gate = layer.at(Projection::kGate).Forward(x, keys, site + 4);
  torch::Tensor up = layer.at(Projection::kUp).Forward(x, keys, site + 5);
  return layer.at(Projection::kDown).Forward(torch::silu(gate) * up, keys, site + 6);
}

torch::Tensor TorchQwen2::Hidden(const torch::Tensor& ids, const DropoutKeys* dropout) const {
  const int64_t B = ids.size(0), T = ids.size(1);
  const double eps = config().rms_norm_eps;
  torch::Tensor h = embedding_.index_select(0, ids.reshape({-1})).view({B, T, -1}).to(float_type_);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const TorchLayer& layer = layers_[i];
    h = h + Attention(layer, RmsNorm(h, layer.attn_norm, eps), dropout, i).to(float_type_);
    h = h + Mlp(layer, RmsNorm(h, layer.ffn_norm, eps), dropout, i).to(float_type_);
  }
  return RmsNorm(h, final_norm_, eps);
}

torch::Tensor TorchQwen2::Logits(const torch::Tensor& hidden) const {
  return torch::linear(hidden, output_).to(float_type_);
}

}  // namespace medassist::train
