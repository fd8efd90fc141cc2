// The paged KV cache: fixed-size blocks of keys and values for every layer. The runtime owns it
// and decides which blocks a sequence uses (its block table); the model is lent it for a forward
// pass and writes the K and V of each batch row at (block_table[pos / block_size],
// pos % block_size). Stored in F32 (the reference's precision) or F16 (DESIGN §4: half the memory
// and half the bytes attention reads; keys and values rounded to nearest even, as llama.cpp's
// default cache stores them). The fast path and the reference store through the same Store(), so
// both see the same cached bits.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "formats/hf_config.h"

namespace medassist::model {

inline constexpr int32_t kDefaultKvBlockSize = 16;

enum class KvType { kF32, kF16 };

// "f32" / "f16"; InvalidArgument otherwise.
Result<KvType> ParseKvType(std::string_view name);
const char* KvTypeName(KvType type);

struct KvCacheShape {
  int64_t n_layers = 0;
  int64_t kv_dim = 0;  // n_kv_heads * head_dim
  int32_t block_size = kDefaultKvBlockSize;
  int32_t n_blocks = 0;
  KvType type = KvType::kF32;

  static KvCacheShape ForModel(const formats::ModelConfig& config, int32_t n_blocks,
                               int32_t block_size = kDefaultKvBlockSize,
                               KvType type = KvType::kF32);
  // Elements per block: layers x (K, V) x block_size x kv_dim.
  int64_t block_floats() const { return n_layers * 2 * block_size * kv_dim; }
  int64_t element_bytes() const { return type == KvType::kF16 ? 2 : 4; }
  int64_t block_bytes() const { return block_floats() * element_bytes(); }
};

class KvCache {
 public:
  // Allocates shape.n_blocks blocks (zeroed). InvalidArgument for a nonpositive size and
  // ResourceExhausted when the total would not fit in memory's addressable range.
  static Result<KvCache> Create(const KvCacheShape& shape);

  const KvCacheShape& shape() const { return shape_; }
  KvType type() const { return shape_.type; }

  // Writes one position's key and value (kv_dim floats each), converted to the storage type.
  void Store(int32_t block, int64_t layer, int32_t slot, const float* key, const float* value);
  // Reads n elements from offset of the key (value) at (block, slot) of a layer, as F32.
  void LoadKey(int32_t block, int64_t layer, int32_t slot, int64_t offset, int64_t n,
               float* out) const;
  void LoadValue(int32_t block, int64_t layer, int32_t slot, int64_t offset, int64_t n,
                 float* out) const;
  // The stored key (value) elements at (block, slot) of a layer (float or uint16_t F16 bits), for
  // the attention kernels; slot j + 1 is kv_dim elements further.
  const void* KeyData(int32_t block, int64_t layer, int32_t slot) const {
    return At(block, layer, 0, slot);
  }
  const void* ValueData(int32_t block, int64_t layer, int32_t slot) const {
    return At(block, layer, 1, slot);
  }

 private:
  explicit KvCache(const KvCacheShape& shape);
  const uint8_t* At(int32_t block, int64_t layer, int kind, int32_t slot) const;
  void Load(const uint8_t* at, int64_t offset, int64_t n, float* out) const;

  KvCacheShape shape_;
  std::vector<uint8_t> data_;
};

}  // namespace medassist::model
