// GGUF vocabulary shared by the reader and the writer: metadata value types, ggml tensor types with
// their block geometry, a metadata value view, and a tensor description.
//
// GGUF (v2, v3) is little-endian: "GGUF", uint32 version, uint64 tensor_count, uint64 kv_count,
// kv pairs, tensor infos, padding to general.alignment, tensor data. See gguf_reader.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace medassist::formats {

// Metadata value type tags, as stored in the file (uint32).
enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,  // one byte, 0 or 1 (any non-zero byte reads as true)
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

// "UINT8", "STRING", ...; "UNKNOWN" for a tag outside the table.
std::string_view GgufValueTypeName(GgufValueType type);
// Bytes of one value of a fixed-size type; 0 for STRING, ARRAY and unknown tags.
size_t GgufValueTypeSize(GgufValueType type);
// True for the 13 tags above.
bool GgufValueTypeIsKnown(uint32_t tag);

// ggml tensor types, as stored in the file (uint32). Numbers missing here were removed from ggml
// and are refused as unknown.
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kMXFP4 = 39,
};

// Storage geometry of a ggml type: block_size elements are stored in type_size bytes. A row
// (dims[0] elements) must hold a whole number of blocks.
struct GgmlTypeTraits {
  std::string_view name;  // "F32", "Q4_K", ...
  uint32_t block_size;
  uint32_t type_size;
};

// nullptr for a tag that is not a known ggml type.
const GgmlTypeTraits* FindGgmlTypeTraits(uint32_t tag);
// "Q8_0", or "UNKNOWN".
std::string_view GgmlTypeName(GgmlType type);
// The types that this build's kernels can compute with (for now F32, F16, BF16). The reader knows
// the geometry of every type above, so it validates quantised files it cannot run.
bool GgufTypeIsSupportedForCompute(GgmlType type);

// At most this many dimensions per tensor (ggml's GGML_MAX_DIMS).
inline constexpr size_t kGgufMaxDims = 4;
// Tensor names are at most this many bytes (ggml keeps names in char[64] with a terminator).
inline constexpr size_t kGgufMaxTensorName = 63;
// At most this many tensors and metadata pairs per file: far above real models (a large MoE model
// has tens of thousands of tensors and a few dozen keys), so that even a huge file cannot make the
// index tables absurd. The writer refuses to write more.
inline constexpr uint64_t kGgufMaxTensors = uint64_t{1} << 20;
inline constexpr uint64_t kGgufMaxMetadataPairs = uint64_t{1} << 20;
// Default alignment of the tensor data section and of each tensor's offset within it.
inline constexpr uint32_t kGgufDefaultAlignment = 32;

struct GgmlTensorSize {
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
};

// Element and byte count of a tensor of `type` with `dims` (ggml order: dims[0] is the row length,
// the fastest-varying index). Refuses: unknown type, more than 4 dims, a zero dim, a dim or element
// count above INT64_MAX (ggml counts in int64), a byte count that overflows, and a row length that
// is not a multiple of the type's block size. Messages name the problem, not the tensor.
Result<GgmlTensorSize> ComputeGgmlTensorSize(uint32_t type_tag, std::span<const uint64_t> dims);

// A metadata value as parsed from a file. A cheap view: strings, arrays and raw bytes point into
// the file's bytes, so a GgufValue is valid only while the GgufFile (or the caller's buffer) that
// produced it is alive. The parser has already validated its structure; accessors never fail
// except by type mismatch.
class GgufValue {
 public:
  GgufValue() = default;

  GgufValueType type() const { return type_; }
  // ARRAY only: element type and count (kUint8 and 0 for other types).
  GgufValueType array_type() const { return array_type_; }
  uint64_t array_size() const { return array_size_; }

  // The value's bytes, little-endian, exactly as stored after its type tag, minus the headers:
  //   scalar: its 1..8 bytes;  STRING: the characters (no length);
  //   ARRAY: the encoded elements (no element type, no count).
  std::span<const uint8_t> payload() const { return payload_; }

  // ARRAY of ARRAY only: one value per element, in order (empty otherwise).
  const std::vector<GgufValue>& nested() const { return nested_; }

  // Scalar reads, nullopt when the type does not match or the value does not fit:
  // AsUint64 accepts any integer type holding a value >= 0; AsInt64 any integer type holding a
  // value <= INT64_MAX; AsFloat64 FLOAT32 or FLOAT64; AsBool BOOL; AsString STRING.
  std::optional<uint64_t> AsUint64() const;
  std::optional<int64_t> AsInt64() const;
  std::optional<double> AsFloat64() const;
  std::optional<bool> AsBool() const;
  std::optional<std::string_view> AsString() const;

  // ARRAY of a fixed-size type: element i as a scalar value (a view). CHECK-fails unless
  // i < array_size() and the elements have a fixed size (a bug in the caller, not in the file).
  GgufValue Element(uint64_t i) const;
  // ARRAY of STRING: every element, in order (views into the file). Empty for other types.
  std::vector<std::string_view> Strings() const;

 private:
  friend class GgufParser;
  // Views over bytes the parser has already validated.
  static GgufValue Scalar(GgufValueType type, std::span<const uint8_t> bytes);
  static GgufValue Array(GgufValueType element_type, uint64_t count,
                         std::span<const uint8_t> element_bytes, std::vector<GgufValue> nested);
  // False for a default-constructed value, a STRING or an ARRAY: guards the scalar reads.
  bool HoldsFixedSizeScalar() const {
    return GgufValueTypeSize(type_) != 0 && payload_.size() == GgufValueTypeSize(type_);
  }

  GgufValueType type_ = GgufValueType::kUint8;
  GgufValueType array_type_ = GgufValueType::kUint8;
  uint64_t array_size_ = 0;
  std::span<const uint8_t> payload_;
  std::vector<GgufValue> nested_;
};

// One metadata pair, in file order. key views the file's bytes.
struct GgufKeyValue {
  std::string_view key;
  GgufValue value;
};

// One tensor as described by the file, after validation. name and data view the file's bytes.
struct GgufTensorInfo {
  std::string_view name;
  GgmlType type = GgmlType::kF32;
  std::vector<uint64_t> dims;  // ggml order: dims[0] is the row length (fastest-varying)
  uint64_t offset = 0;         // from the start of the tensor data section, a multiple of alignment
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  // Exactly n_bytes. When GgufFile::Open mapped the file, aligned to the file's alignment (up to
  // the page size, where mappings start); from GgufFile::Parse, as aligned as the caller's buffer.
  std::span<const uint8_t> data;
};

}  // namespace medassist::formats
