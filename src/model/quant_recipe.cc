#include "model/quant_recipe.h"

#include <cctype>
#include <cstring>

#include "kernels/fp16.h"
#include "kernels/quantize.h"

namespace medassist::model {
namespace {

using kernels::WeightFormat;

constexpr std::pair<std::string_view, WeightMix> kMixNames[] = {
    {"keep", WeightMix::kKeep}, {"f32", WeightMix::kF32},       {"f16", WeightMix::kF16},
    {"bf16", WeightMix::kBF16}, {"q8_0", WeightMix::kQ8_0},     {"q4_0", WeightMix::kQ4_0},
    {"q4_k", WeightMix::kQ4_K}, {"q4_k_m", WeightMix::kQ4_K_M},
};

// What a quantised mix stores a matrix as, before the fallback for rows of partial blocks.
// hf_name's layer index decides llama.cpp's "more bits" layers for Q4_K_M: the first and last
// eighth of the layers and every third layer in between.
WeightFormat QuantisedChoice(WeightMix mix, const formats::ModelConfig& c,
                             const std::string& hf_name) {
  if (mix == WeightMix::kQ8_0) return WeightFormat::kQ8_0;
  if (mix == WeightMix::kQ4_0) return WeightFormat::kQ4_0;
  if (mix == WeightMix::kQ4_K) return WeightFormat::kQ4_K;
  const bool is_output = hf_name == "lm_head.weight" ||
                         (c.tie_word_embeddings && hf_name == "model.embed_tokens.weight");
  if (is_output) return WeightFormat::kQ6_K;
  const bool more_bits_kind = hf_name.find(".self_attn.v_proj.") != std::string::npos ||
                              hf_name.find(".mlp.down_proj.") != std::string::npos;
  if (!more_bits_kind) return WeightFormat::kQ4_K;
  const int64_t n = c.num_hidden_layers;
  const int64_t layer = std::stoll(hf_name.substr(std::string("model.layers.").size()));
  const bool more_bits = layer < n / 8 || layer >= 7 * n / 8 || (layer - n / 8) % 3 == 2;
  return more_bits ? WeightFormat::kQ6_K : WeightFormat::kQ4_K;
}

}  // namespace

Result<WeightMix> ParseWeightMix(std::string_view name) {
  std::string lower(name);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (const auto& [mix_name, mix] : kMixNames) {
    if (lower == mix_name) return mix;
  }
  return InvalidArgument("weight type '" + std::string(name) +
                         "' is not one of keep, f32, f16, bf16, q8_0, q4_0, q4_k, q4_k_m");
}

std::string_view WeightMixName(WeightMix mix) {
  for (const auto& [mix_name, m] : kMixNames) {
    if (m == mix) return mix_name;
  }
  return "?";
}

bool IsQuantisedMix(WeightMix mix) {
  return mix == WeightMix::kQ8_0 || mix == WeightMix::kQ4_0 || mix == WeightMix::kQ4_K ||
         mix == WeightMix::kQ4_K_M;
}

bool IsBlockFormat(WeightFormat f) {
  return f == WeightFormat::kQ8_0 || f == WeightFormat::kQ4_0 || f == WeightFormat::kQ5_0 ||
         f == WeightFormat::kQ4_K || f == WeightFormat::kQ6_K;
}

WeightFormat MatrixFormat(WeightMix mix, const formats::ModelConfig& config,
                          const std::string& hf_name, int64_t cols, WeightFormat stored) {
  switch (mix) {
    case WeightMix::kKeep:
      return stored;
    case WeightMix::kF32:
      return WeightFormat::kF32;
    case WeightMix::kF16:
      return WeightFormat::kF16;
    case WeightMix::kBF16:
      return WeightFormat::kBF16;
    case WeightMix::kQ8_0:
    case WeightMix::kQ4_0:
    case WeightMix::kQ4_K:
    case WeightMix::kQ4_K_M:
      break;
  }
  const WeightFormat t = QuantisedChoice(mix, config, hf_name);
  if (cols % kernels::Traits(t).block_elems == 0) return t;
  // llama.cpp's fallbacks for rows of partial K blocks: Q4_K -> Q5_0, Q6_K -> Q8_0.
  if (cols % 32 != 0) return WeightFormat::kF16;
  return t == WeightFormat::kQ4_K ? WeightFormat::kQ5_0 : WeightFormat::kQ8_0;
}

Status CheckRequantize(const std::string& source, const std::string& tensor, WeightFormat stored,
                       WeightFormat target, bool allow_requantize, std::string_view remedy) {
  if (allow_requantize || stored == target || !IsBlockFormat(stored) || !IsBlockFormat(target)) {
    return Status::Ok();
  }
  return InvalidArgument(
      source + ": tensor '" + tensor + "' is already quantised (" +
      std::string(kernels::Traits(stored).name) + "); quantising it again to " +
      std::string(kernels::Traits(target).name) +
      " adds a second rounding error on top of the first, so the result is worse than quantising "
      "the F32/F16/BF16 original. " +
      std::string(remedy));
}

void EncodeRow(WeightFormat f, const float* x, int64_t n, uint8_t* dst) {
  if (IsBlockFormat(f)) {
    kernels::QuantizeRow(f, x, n, dst);
  } else if (f == WeightFormat::kF32) {
    std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float));
  } else {
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t h =
          f == WeightFormat::kF16 ? kernels::F32ToF16(x[i]) : kernels::F32ToBF16(x[i]);
      std::memcpy(dst + 2 * i, &h, sizeof h);
    }
  }
}

}  // namespace medassist::model
