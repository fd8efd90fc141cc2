#include "formats/gguf_types.h"

#include <bit>
#include <cstring>
#include <limits>
#include <string>

namespace medassist::formats {
namespace {

static_assert(
    std::endian::native == std::endian::little,
    "GGUF is little-endian; this reader reads it in place and needs a little-endian host");

struct GgmlTypeEntry {
  uint32_t tag;
  GgmlTypeTraits traits;
};

// Block geometry from ggml's block structs (ggml-common.h); QK_K = 256.
constexpr GgmlTypeEntry kGgmlTypes[] = {
    {0, {"F32", 1, 4}},         {1, {"F16", 1, 2}},         {2, {"Q4_0", 32, 18}},
    {3, {"Q4_1", 32, 20}},      {6, {"Q5_0", 32, 22}},      {7, {"Q5_1", 32, 24}},
    {8, {"Q8_0", 32, 34}},      {9, {"Q8_1", 32, 36}},      {10, {"Q2_K", 256, 84}},
    {11, {"Q3_K", 256, 110}},   {12, {"Q4_K", 256, 144}},   {13, {"Q5_K", 256, 176}},
    {14, {"Q6_K", 256, 210}},   {15, {"Q8_K", 256, 292}},   {16, {"IQ2_XXS", 256, 66}},
    {17, {"IQ2_XS", 256, 74}},  {18, {"IQ3_XXS", 256, 98}}, {19, {"IQ1_S", 256, 50}},
    {20, {"IQ4_NL", 32, 18}},   {21, {"IQ3_S", 256, 110}},  {22, {"IQ2_S", 256, 82}},
    {23, {"IQ4_XS", 256, 136}}, {24, {"I8", 1, 1}},         {25, {"I16", 1, 2}},
    {26, {"I32", 1, 4}},        {27, {"I64", 1, 8}},        {28, {"F64", 1, 8}},
    {29, {"IQ1_M", 256, 56}},   {30, {"BF16", 1, 2}},       {34, {"TQ1_0", 256, 54}},
    {35, {"TQ2_0", 256, 66}},   {39, {"MXFP4", 32, 17}},
};

constexpr uint64_t kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

bool IsSignedInteger(GgufValueType t) {
  return t == GgufValueType::kInt8 || t == GgufValueType::kInt16 || t == GgufValueType::kInt32 ||
         t == GgufValueType::kInt64;
}

bool IsUnsignedInteger(GgufValueType t) {
  return t == GgufValueType::kUint8 || t == GgufValueType::kUint16 || t == GgufValueType::kUint32 ||
         t == GgufValueType::kUint64;
}

// The value of an integer scalar widened to int64 (signed types) or uint64 (unsigned types).
int64_t LoadSigned(GgufValueType t, const uint8_t* p) {
  switch (t) {
    case GgufValueType::kInt8:
      return Load<int8_t>(p);
    case GgufValueType::kInt16:
      return Load<int16_t>(p);
    case GgufValueType::kInt32:
      return Load<int32_t>(p);
    default:
      return Load<int64_t>(p);
  }
}

uint64_t LoadUnsigned(GgufValueType t, const uint8_t* p) {
  switch (t) {
    case GgufValueType::kUint8:
      return Load<uint8_t>(p);
    case GgufValueType::kUint16:
      return Load<uint16_t>(p);
    case GgufValueType::kUint32:
      return Load<uint32_t>(p);
    default:
      return Load<uint64_t>(p);
  }
}

}  // namespace

std::string_view GgufValueTypeName(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
      return "UINT8";
    case GgufValueType::kInt8:
      return "INT8";
    case GgufValueType::kUint16:
      return "UINT16";
    case GgufValueType::kInt16:
      return "INT16";
    case GgufValueType::kUint32:
      return "UINT32";
    case GgufValueType::kInt32:
      return "INT32";
    case GgufValueType::kFloat32:
      return "FLOAT32";
    case GgufValueType::kBool:
      return "BOOL";
    case GgufValueType::kString:
      return "STRING";
    case GgufValueType::kArray:
      return "ARRAY";
    case GgufValueType::kUint64:
      return "UINT64";
    case GgufValueType::kInt64:
      return "INT64";
    case GgufValueType::kFloat64:
      return "FLOAT64";
  }
  return "UNKNOWN";
}

size_t GgufValueTypeSize(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
      return 2;
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kFloat32:
      return 4;
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
    case GgufValueType::kFloat64:
      return 8;
    case GgufValueType::kString:
    case GgufValueType::kArray:
      return 0;
  }
  return 0;
}

bool GgufValueTypeIsKnown(uint32_t tag) { return tag <= 12; }

const GgmlTypeTraits* FindGgmlTypeTraits(uint32_t tag) {
  for (const GgmlTypeEntry& e : kGgmlTypes) {
    if (e.tag == tag) return &e.traits;
  }
  return nullptr;
}

std::string_view GgmlTypeName(GgmlType type) {
  const GgmlTypeTraits* traits = FindGgmlTypeTraits(static_cast<uint32_t>(type));
  return traits != nullptr ? traits->name : "UNKNOWN";
}

bool GgufTypeIsSupportedForCompute(GgmlType type) {
  return type == GgmlType::kF32 || type == GgmlType::kF16 || type == GgmlType::kBF16;
}

Result<GgmlTensorSize> ComputeGgmlTensorSize(uint32_t type_tag, std::span<const uint64_t> dims) {
  const GgmlTypeTraits* traits = FindGgmlTypeTraits(type_tag);
  if (traits == nullptr) return DataLoss("unknown ggml type " + std::to_string(type_tag));
  if (dims.size() > kGgufMaxDims) {
    return DataLoss("n_dims " + std::to_string(dims.size()) + " exceeds the maximum of " +
                    std::to_string(kGgufMaxDims));
  }
  GgmlTensorSize size{1, 0};
  for (size_t i = 0; i < dims.size(); ++i) {
    const std::string which = "dimension " + std::to_string(i);
    if (dims[i] == 0) return DataLoss(which + " is 0");
    if (dims[i] > kInt64Max) {
      return DataLoss(which + " is " + std::to_string(dims[i]) + " (negative as int64)");
    }
    // n_elements * dims[i] <= INT64_MAX, checked without overflowing.
    if (size.n_elements > kInt64Max / dims[i]) return DataLoss("element count overflows int64");
    size.n_elements *= dims[i];
  }
  const uint64_t row = dims.empty() ? 1 : dims[0];
  if (row % traits->block_size != 0) {
    return DataLoss("row length " + std::to_string(row) + " is not a multiple of the " +
                    std::string(traits->name) + " block size " +
                    std::to_string(traits->block_size));
  }
  const uint64_t n_blocks = size.n_elements / traits->block_size;
  if (n_blocks > std::numeric_limits<uint64_t>::max() / traits->type_size) {
    return DataLoss("byte size overflows uint64");
  }
  size.n_bytes = n_blocks * traits->type_size;
  return size;
}

GgufValue GgufValue::Scalar(GgufValueType type, std::span<const uint8_t> bytes) {
  GgufValue v;
  v.type_ = type;
  v.payload_ = bytes;
  return v;
}

GgufValue GgufValue::Array(GgufValueType element_type, uint64_t count,
                           std::span<const uint8_t> element_bytes, std::vector<GgufValue> nested) {
  GgufValue v;
  v.type_ = GgufValueType::kArray;
  v.array_type_ = element_type;
  v.array_size_ = count;
  v.payload_ = element_bytes;
  v.nested_ = std::move(nested);
  return v;
}

std::optional<uint64_t> GgufValue::AsUint64() const {
  if (!HoldsFixedSizeScalar()) return std::nullopt;
  if (IsUnsignedInteger(type_)) return LoadUnsigned(type_, payload_.data());
  if (IsSignedInteger(type_)) {
    const int64_t v = LoadSigned(type_, payload_.data());
    if (v >= 0) return static_cast<uint64_t>(v);
  }
  return std::nullopt;
}

std::optional<int64_t> GgufValue::AsInt64() const {
  if (!HoldsFixedSizeScalar()) return std::nullopt;
  if (IsSignedInteger(type_)) return LoadSigned(type_, payload_.data());
  if (IsUnsignedInteger(type_)) {
    const uint64_t v = LoadUnsigned(type_, payload_.data());
    if (v <= kInt64Max) return static_cast<int64_t>(v);
  }
  return std::nullopt;
}

std::optional<double> GgufValue::AsFloat64() const {
  if (!HoldsFixedSizeScalar()) return std::nullopt;
  if (type_ == GgufValueType::kFloat32) return Load<float>(payload_.data());
  if (type_ == GgufValueType::kFloat64) return Load<double>(payload_.data());
  return std::nullopt;
}

std::optional<bool> GgufValue::AsBool() const {
  if (!HoldsFixedSizeScalar()) return std::nullopt;
  if (type_ != GgufValueType::kBool) return std::nullopt;
  return payload_[0] != 0;
}

std::optional<std::string_view> GgufValue::AsString() const {
  if (type_ != GgufValueType::kString) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(payload_.data()), payload_.size());
}

GgufValue GgufValue::Element(uint64_t i) const {
  const size_t size = GgufValueTypeSize(array_type_);
  CHECK(type_ == GgufValueType::kArray && size != 0 && i < array_size_)
      << "GgufValue::Element(" << i << ") on " << GgufValueTypeName(type_) << " of "
      << GgufValueTypeName(array_type_) << "[" << array_size_ << "]";
  return Scalar(array_type_, payload_.subspan(i * size, size));
}

std::vector<std::string_view> GgufValue::Strings() const {
  std::vector<std::string_view> out;
  if (type_ != GgufValueType::kArray || array_type_ != GgufValueType::kString) return out;
  out.reserve(array_size_);
  // The parser checked that every length fits, so this walk stays inside payload_.
  size_t pos = 0;
  for (uint64_t i = 0; i < array_size_; ++i) {
    const uint64_t len = Load<uint64_t>(payload_.data() + pos);
    pos += sizeof(uint64_t);
    out.emplace_back(reinterpret_cast<const char*>(payload_.data() + pos), len);
    pos += len;
  }
  return out;
}

}  // namespace medassist::formats
