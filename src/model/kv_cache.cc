#include "model/kv_cache.h"

#include <cstring>
#include <limits>
#include <string>

#include "core/check.h"
#include "kernels/fp16.h"

namespace medassist::model {

Result<KvType> ParseKvType(std::string_view name) {
  if (name == "f32") return KvType::kF32;
  if (name == "f16") return KvType::kF16;
  return InvalidArgument("KV cache type '" + std::string(name) + "': expected f32 or f16");
}

const char* KvTypeName(KvType type) { return type == KvType::kF16 ? "f16" : "f32"; }

KvCacheShape KvCacheShape::ForModel(const formats::ModelConfig& config, int32_t n_blocks,
                                    int32_t block_size, KvType type) {
  KvCacheShape shape;
  shape.n_layers = config.num_hidden_layers;
  shape.kv_dim = config.kv_dim();
  shape.block_size = block_size;
  shape.n_blocks = n_blocks;
  shape.type = type;
  return shape;
}

Result<KvCache> KvCache::Create(const KvCacheShape& shape) {
  if (shape.n_layers <= 0 || shape.kv_dim <= 0 || shape.block_size <= 0 || shape.n_blocks <= 0) {
    return InvalidArgument("KV cache: layers, kv_dim, block size and block count must be positive");
  }
  // Checked in steps so that no product overflows.
  const int64_t max_floats = std::numeric_limits<int64_t>::max() / 8;
  if (shape.kv_dim > max_floats / shape.block_size / 2 / shape.n_layers ||
      shape.block_floats() > max_floats / shape.n_blocks) {
    return ResourceExhausted("KV cache: " + std::to_string(shape.n_blocks) +
                             " blocks of this shape do not fit in memory");
  }
  return KvCache(shape);
}

KvCache::KvCache(const KvCacheShape& shape)
    : shape_(shape), data_(static_cast<size_t>(shape.block_bytes() * shape.n_blocks), 0) {}

// Block layout: [layer][K or V][slot][kv_dim], so one sequence's keys for a layer are contiguous
// within a block.
const uint8_t* KvCache::At(int32_t block, int64_t layer, int kind, int32_t slot) const {
  DCHECK(block >= 0 && block < shape_.n_blocks);
  DCHECK(layer >= 0 && layer < shape_.n_layers);
  DCHECK(slot >= 0 && slot < shape_.block_size);
  const int64_t element = static_cast<int64_t>(block) * shape_.block_floats() +
                          ((layer * 2 + kind) * shape_.block_size + slot) * shape_.kv_dim;
  return data_.data() + element * shape_.element_bytes();
}

void KvCache::Store(int32_t block, int64_t layer, int32_t slot, const float* key,
                    const float* value) {
  const int64_t n = shape_.kv_dim;
  auto* k = const_cast<uint8_t*>(At(block, layer, 0, slot));
  auto* v = const_cast<uint8_t*>(At(block, layer, 1, slot));
  if (shape_.type == KvType::kF32) {
    std::memcpy(k, key, static_cast<size_t>(n) * sizeof(float));
    std::memcpy(v, value, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  auto* k16 = reinterpret_cast<uint16_t*>(k);
  auto* v16 = reinterpret_cast<uint16_t*>(v);
  for (int64_t i = 0; i < n; ++i) {
    k16[i] = kernels::F32ToF16(key[i]);
    v16[i] = kernels::F32ToF16(value[i]);
  }
}

void KvCache::Load(const uint8_t* at, int64_t offset, int64_t n, float* out) const {
  if (shape_.type == KvType::kF32) {
    std::memcpy(out, reinterpret_cast<const float*>(at) + offset, static_cast<size_t>(n) * 4);
    return;
  }
  const auto* h = reinterpret_cast<const uint16_t*>(at) + offset;
  for (int64_t i = 0; i < n; ++i) out[i] = kernels::F16ToF32(h[i]);
}

void KvCache::LoadKey(int32_t block, int64_t layer, int32_t slot, int64_t offset, int64_t n,
                      float* out) const {
  Load(At(block, layer, 0, slot), offset, n, out);
}

void KvCache::LoadValue(int32_t block, int64_t layer, int32_t slot, int64_t offset, int64_t n,
                        float* out) const {
  Load(At(block, layer, 1, slot), offset, n, out);
}

}  // namespace medassist::model
