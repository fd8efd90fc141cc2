#include "model/kv_cache.h"

#include <limits>

namespace medassist::model {

KvCacheShape KvCacheShape::ForModel(const formats::ModelConfig& config, int32_t n_blocks,
                                    int32_t block_size) {
  KvCacheShape shape;
  shape.n_layers = config.num_hidden_layers;
  shape.kv_dim = config.kv_dim();
  shape.block_size = block_size;
  shape.n_blocks = n_blocks;
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
    : shape_(shape), data_(static_cast<size_t>(shape.block_floats() * shape.n_blocks), 0.0f) {}

// Block layout: [layer][K or V][slot][kv_dim], so one sequence's keys for a layer are contiguous
// within a block.
float* KvCache::At(int32_t block, int64_t layer, int kind, int32_t slot) {
  DCHECK(block >= 0 && block < shape_.n_blocks);
  DCHECK(layer >= 0 && layer < shape_.n_layers);
  DCHECK(slot >= 0 && slot < shape_.block_size);
  const int64_t offset = static_cast<int64_t>(block) * shape_.block_floats() +
                         ((layer * 2 + kind) * shape_.block_size + slot) * shape_.kv_dim;
  return data_.data() + offset;
}

}  // namespace medassist::model
