// The paged KV cache: fixed-size blocks of keys and values for every layer. The runtime owns it
// and decides which blocks a sequence uses (its block table); the model is lent it for a forward
// pass and writes the K and V of each batch row at (block_table[pos / block_size],
// pos % block_size). Stored in F32 for the reference path.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "formats/hf_config.h"

namespace medassist::model {

inline constexpr int32_t kDefaultKvBlockSize = 16;

struct KvCacheShape {
  int64_t n_layers = 0;
  int64_t kv_dim = 0;  // n_kv_heads * head_dim
  int32_t block_size = kDefaultKvBlockSize;
  int32_t n_blocks = 0;

  static KvCacheShape ForModel(const formats::ModelConfig& config, int32_t n_blocks,
                               int32_t block_size = kDefaultKvBlockSize);
  // Floats per block: layers x (K, V) x block_size x kv_dim.
  int64_t block_floats() const { return n_layers * 2 * block_size * kv_dim; }
};

class KvCache {
 public:
  // Allocates shape.n_blocks blocks (zeroed). InvalidArgument for a nonpositive size and
  // ResourceExhausted when the total would not fit in memory's addressable range.
  static Result<KvCache> Create(const KvCacheShape& shape);

  const KvCacheShape& shape() const { return shape_; }
  // The kv_dim floats of the key (or value) at (block, slot) of a layer.
  float* Key(int32_t block, int64_t layer, int32_t slot) { return At(block, layer, 0, slot); }
  float* Value(int32_t block, int64_t layer, int32_t slot) { return At(block, layer, 1, slot); }
  const float* Key(int32_t block, int64_t layer, int32_t slot) const {
    return const_cast<KvCache*>(this)->At(block, layer, 0, slot);
  }
  const float* Value(int32_t block, int64_t layer, int32_t slot) const {
    return const_cast<KvCache*>(this)->At(block, layer, 1, slot);
  }

 private:
  explicit KvCache(const KvCacheShape& shape);
  float* At(int32_t block, int64_t layer, int kind, int32_t slot);

  KvCacheShape shape_;
  std::vector<float> data_;
};

}  // namespace medassist::model
