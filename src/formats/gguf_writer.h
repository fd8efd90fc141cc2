// GGUF v3 writer. Everything it writes reads back through GgufFile, and it refuses (with the same
// rules as the reader) what the reader would refuse:
//
//   GgufWriter w;
//   w.AddString("general.architecture", "llama");
//   w.AddStringArray("tokenizer.ggml.tokens", tokens);   // std::vector<std::string>
//   w.AddTensor("token_embd.weight", GgmlType::kF32, dims, bytes);
//   RETURN_IF_ERROR(w.WriteToFile(path));
//
// Errors are sticky: the Add* calls return nothing, the first problem (duplicate key or tensor
// name, bad dims, wrong data size, bad alignment) is kept in status(), later calls are ignored, and
// WriteToFile / WriteToString return it. Metadata is encoded as it is added (no per-string
// allocation), so a 150k-entry token list costs one pass and one buffer.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <vector>

#include "core/status.h"
#include "formats/gguf_types.h"

namespace medassist::formats {

class GgufWriter {
 public:
  GgufWriter() = default;

  // Scalars. AddUint32("general.alignment", n) also sets the alignment of the tensor data (a power
  // of two; 32 by default).
  void AddUint8(std::string_view key, uint8_t value);
  void AddInt8(std::string_view key, int8_t value);
  void AddUint16(std::string_view key, uint16_t value);
  void AddInt16(std::string_view key, int16_t value);
  void AddUint32(std::string_view key, uint32_t value);
  void AddInt32(std::string_view key, int32_t value);
  void AddUint64(std::string_view key, uint64_t value);
  void AddInt64(std::string_view key, int64_t value);
  void AddFloat32(std::string_view key, float value);
  void AddFloat64(std::string_view key, double value);
  void AddBool(std::string_view key, bool value);
  void AddString(std::string_view key, std::string_view value);

  // Arrays of a fixed-size type T: uint8_t .. int64_t, float, double, bool. Call with the type
  // spelled out when passing a vector: AddArray<uint16_t>("k", v).
  template <typename T>
  void AddArray(std::string_view key, std::span<const T> values);
  void AddFloat32Array(std::string_view key, std::span<const float> values) {
    AddArray<float>(key, values);
  }
  void AddInt32Array(std::string_view key, std::span<const int32_t> values) {
    AddArray<int32_t>(key, values);
  }
  void AddStringArray(std::string_view key, std::span<const std::string> values);
  void AddStringArray(std::string_view key, std::span<const std::string_view> values);

  // Copies a value read from another file (any type, nested arrays included), e.g. to carry a
  // model's metadata over to a converted file. The value's file must still be alive.
  void AddValue(std::string_view key, const GgufValue& value);

  // A tensor of `type` with `dims` (ggml order, dims[0] is the row length) whose data is exactly
  // `data` (copied). Tensors are laid out in the order added, each at an aligned offset.
  void AddTensor(std::string_view name, GgmlType type, std::span<const uint64_t> dims,
                 std::span<const uint8_t> data);
  // As AddTensor, but not copied: the caller keeps data alive and unchanged until the last
  // WriteToFile / WriteToString returns (e.g. a view into a memory-mapped source file).
  void AddTensorView(std::string_view name, GgmlType type, std::span<const uint64_t> dims,
                     std::span<const uint8_t> data);
  // Fills `out` (exactly the tensor's byte size, zeroed) with the tensor's data when it is written.
  using TensorProducer = std::function<Status(std::span<uint8_t> out)>;
  // As AddTensor, but the data is made by `produce` while writing, one tensor at a time into one
  // reused buffer, so a converted model never sits whole in memory. produce may run once per
  // WriteToFile / WriteToString; its error aborts the write (and WriteToFile leaves no file).
  void AddTensorProducer(std::string_view name, GgmlType type, std::span<const uint64_t> dims,
                         TensorProducer produce);

  // OK, or the first error of the Add* calls.
  const Status& status() const { return status_; }
  uint32_t alignment() const { return alignment_; }

  // The whole file in memory.
  Result<std::string> WriteToString() const;
  // Writes path atomically: a temporary file in the same folder, flushed, then renamed over path.
  // Tensor data is streamed: only the largest produced tensor is ever buffered.
  Status WriteToFile(const std::string& path) const;

 private:
  // Exactly one source of data: owned (AddTensor), view (AddTensorView) or produce.
  struct Tensor {
    std::string name;
    GgmlType type = GgmlType::kF32;
    std::vector<uint64_t> dims;
    uint64_t n_bytes = 0;
    std::vector<uint8_t> owned;
    std::span<const uint8_t> view;
    TensorProducer produce;
  };

  // Validates name, dims and size; on success returns true and records the name.
  bool CheckTensor(std::string_view name, GgmlType type, std::span<const uint64_t> dims,
                   const uint64_t* data_size, uint64_t* n_bytes);
  // Completes t (name, type, dims) and appends it.
  void PushTensor(std::string_view name, GgmlType type, std::span<const uint64_t> dims, Tensor t);
  // The tensor's bytes: its owned data or view, or what produce made in *scratch.
  Result<std::span<const uint8_t>> TensorData(const Tensor& t, std::vector<uint8_t>* scratch) const;

  // Checks the key (sticky error on a duplicate or a mistyped general.alignment) and appends the
  // key and type tag. Returns false when the value must not be written.
  bool BeginKv(std::string_view key, GgufValueType type);
  void AddFixedArray(std::string_view key, GgufValueType type, size_t count,
                     std::span<const uint8_t> bytes);
  template <typename Strings>
  void AddStrings(std::string_view key, const Strings& values);
  void AppendScalar(GgufValueType type, const void* value);
  void SetError(Status status);
  // status_, or an error when the file would exceed the reader's limits on counts.
  Status CheckWritable() const;
  // Header, metadata, tensor infos and, when there are tensors, the padding before their data.
  std::string EncodeHeader() const;
  uint64_t PaddedSize(uint64_t n) const { return (n + alignment_ - 1) / alignment_ * alignment_; }

  Status status_;
  uint32_t alignment_ = kGgufDefaultAlignment;
  std::string kv_bytes_;  // the encoded metadata pairs, in order
  uint64_t n_kv_ = 0;
  std::unordered_set<std::string> keys_;
  std::vector<Tensor> tensors_;
  std::unordered_set<std::string> tensor_names_;
};

// The value type tag for an array element of C++ type T.
template <typename T>
constexpr GgufValueType GgufValueTypeOf() {
  if constexpr (std::is_same_v<T, uint8_t>) return GgufValueType::kUint8;
  if constexpr (std::is_same_v<T, int8_t>) return GgufValueType::kInt8;
  if constexpr (std::is_same_v<T, uint16_t>) return GgufValueType::kUint16;
  if constexpr (std::is_same_v<T, int16_t>) return GgufValueType::kInt16;
  if constexpr (std::is_same_v<T, uint32_t>) return GgufValueType::kUint32;
  if constexpr (std::is_same_v<T, int32_t>) return GgufValueType::kInt32;
  if constexpr (std::is_same_v<T, uint64_t>) return GgufValueType::kUint64;
  if constexpr (std::is_same_v<T, int64_t>) return GgufValueType::kInt64;
  if constexpr (std::is_same_v<T, float>) return GgufValueType::kFloat32;
  if constexpr (std::is_same_v<T, double>) return GgufValueType::kFloat64;
  if constexpr (std::is_same_v<T, bool>) return GgufValueType::kBool;
  return GgufValueType::kString;  // not a fixed-size type; refused by AddArray's static_assert
}

template <typename T>
void GgufWriter::AddArray(std::string_view key, std::span<const T> values) {
  static_assert(GgufValueTypeOf<T>() != GgufValueType::kString,
                "AddArray takes uint8_t..int64_t, float, double or bool; use AddStringArray");
  AddFixedArray(key, GgufValueTypeOf<T>(), values.size(),
                {reinterpret_cast<const uint8_t*>(values.data()), values.size_bytes()});
}

}  // namespace medassist::formats
