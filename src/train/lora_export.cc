#include "train/lora_export.h"

#include <cstring>

#include <fmt/format.h>

namespace medassist::train {
namespace {

model::LoraModule ModuleOf(int p) { return static_cast<model::LoraModule>(p); }

std::vector<float> ToVector(const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

}  // namespace

model::LoraAdapter ExportLora(const TorchQwen2& net, const std::string& base_model_name) {
  model::LoraAdapter adapter;
  adapter.config.r = static_cast<int>(net.lora().r);
  adapter.config.lora_alpha = net.lora().alpha;
  adapter.config.lora_dropout = net.lora().dropout;
  adapter.config.target_modules = net.lora().targets;
  adapter.config.base_model_name_or_path = base_model_name;
  adapter.config.use_rslora = net.lora().rslora;
  for (size_t l = 0; l < net.layers().size(); ++l) {
    for (int p = 0; p < kNumProjections; ++p) {
      const LoraLinear& proj = net.layers()[l].proj[static_cast<size_t>(p)];
      if (!proj.has_lora()) continue;
      adapter.matrices.push_back({.layer = static_cast<int>(l),
                                  .module = ModuleOf(p),
                                  .d_in = proj.weight.size(1),
                                  .d_out = proj.weight.size(0),
                                  .a = ToVector(proj.lora_a),
                                  .b = ToVector(proj.lora_b)});
    }
  }
  return adapter;
}

Status LoadLora(TorchQwen2& net, const model::LoraAdapter& adapter) {
  if (adapter.config.r != net.lora().r) {
    return InvalidArgument(fmt::format("the checkpoint's adapter has r = {}, this run r = {}",
                                       adapter.config.r, net.lora().r));
  }
  size_t n_loaded = 0;
  for (const model::LoraMatrices& m : adapter.matrices) {
    if (m.layer < 0 || m.layer >= std::ssize(net.layers())) {
      return InvalidArgument(fmt::format("the checkpoint's adapter has layer {}", m.layer));
    }
    LoraLinear& proj =
        net.layers()[static_cast<size_t>(m.layer)].proj[static_cast<size_t>(m.module)];
    if (!proj.has_lora() || proj.lora_a.numel() != std::ssize(m.a) ||
        proj.lora_b.numel() != std::ssize(m.b)) {
      return InvalidArgument(fmt::format(
          "the checkpoint's adapter has layer {} {}, which this run's LoRA targets do not match",
          m.layer, model::LoraModuleName(m.module)));
    }
    torch::NoGradGuard no_grad;
    // from_blob views the adapter's vectors; copy_ converts to the parameter's type and device.
    proj.lora_a.copy_(torch::from_blob(const_cast<float*>(m.a.data()), proj.lora_a.sizes()));
    proj.lora_b.copy_(torch::from_blob(const_cast<float*>(m.b.data()), proj.lora_b.sizes()));
    ++n_loaded;
  }
  if (n_loaded != net.LoraParameters().size() / 2) {
    return InvalidArgument(fmt::format("the checkpoint's adapter has {} matrices, this run {}",
                                       n_loaded, net.LoraParameters().size() / 2));
  }
  return Status::Ok();
}

}  // namespace medassist::train
