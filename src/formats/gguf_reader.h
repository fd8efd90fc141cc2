// Hardened GGUF reader (v2 and v3; v1 is refused). Files are hostile input: every length, count,
// type tag, dimension and offset is checked against the bytes that are actually there before it is
// used or allocated for, and every refusal is a Status naming the source and the problem:
//
//   ASSIGN_OR_RETURN(GgufFile gguf, GgufFile::Open(path));
//   ASSIGN_OR_RETURN(std::vector<std::string_view> tokens,
//                    gguf.GetStringArray("tokenizer.ggml.tokens"));
//   const GgufTensorInfo* embd = gguf.FindTensor("token_embd.weight");
//
// Zero-copy: keys, strings, arrays and tensor data are views into the file's bytes, valid as long
// as the GgufFile lives (moving it keeps them valid). Parsing walks each string array once; the
// typed getters copy what they return into vectors of views or numbers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/file.h"
#include "core/status.h"
#include "formats/gguf_types.h"

namespace medassist::formats {

// Arrays nest at most this deep (an array of arrays is depth 2); deeper files are refused so that
// hostile input cannot exhaust the stack.
inline constexpr int kGgufMaxArrayDepth = 8;

class GgufFile {
 public:
  // Memory-maps the file at path and parses it. Errors name the path.
  static Result<GgufFile> Open(const std::string& path);
  // Parses bytes that the caller keeps alive and unchanged for the lifetime of the returned
  // GgufFile and of every view taken from it (no copy is made). source_name names the bytes in
  // error messages ("model.gguf", "<fuzz>").
  static Result<GgufFile> Parse(std::span<const uint8_t> bytes, std::string source_name);

  GgufFile(GgufFile&&) = default;
  GgufFile& operator=(GgufFile&&) = default;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& source() const { return source_; }
  uint32_t version() const { return version_; }
  // general.alignment, or 32 when the file does not set it.
  uint32_t alignment() const { return alignment_; }
  // Byte offset of the tensor data section from the start of the file (a multiple of alignment; in
  // a file without tensors it may lie past the end, as the padding before it is optional).
  uint64_t data_offset() const { return data_offset_; }

  // Metadata in file order. Keys are unique (duplicates are refused when parsing).
  const std::vector<GgufKeyValue>& metadata() const { return metadata_; }
  // nullptr when the key is absent.
  const GgufValue* Find(std::string_view key) const;

  // Typed getters. NotFound when the key is absent; DataLoss when the value has another type or
  // does not fit, with a message such as
  //   "model.gguf: metadata 'llama.block_count' is STRING, expected an unsigned integer".
  Result<std::string_view> GetString(std::string_view key) const;
  // Any integer type whose value fits in the result.
  Result<uint32_t> GetUint32(std::string_view key) const;
  Result<uint64_t> GetUint64(std::string_view key) const;
  // FLOAT32, or FLOAT64 rounded to float.
  Result<float> GetFloat32(std::string_view key) const;
  Result<bool> GetBool(std::string_view key) const;
  // ARRAY of STRING (views into the file).
  Result<std::vector<std::string_view>> GetStringArray(std::string_view key) const;
  // ARRAY of FLOAT32, or of FLOAT64 rounded to float. Copied: array elements in a GGUF file need
  // not be aligned for float.
  Result<std::vector<float>> GetFloat32Array(std::string_view key) const;
  // ARRAY of any integer type whose every element fits in int32.
  Result<std::vector<int32_t>> GetInt32Array(std::string_view key) const;

  // Tensors in file order, each validated: known type, dims, extent inside the data section,
  // aligned offset, no overlap with another tensor, unique name.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  // nullptr when there is no tensor of that name.
  const GgufTensorInfo* FindTensor(std::string_view name) const;

 private:
  GgufFile() = default;
  friend class GgufParser;

  // Errors from the typed getters: "<source>: metadata '<key>' <problem>".
  Status KeyError(std::string_view key, std::string_view problem) const;
  Result<const GgufValue*> FindOrError(std::string_view key) const;
  Result<const GgufValue*> FindArrayOrError(std::string_view key, std::string_view expected) const;

  MappedFile mapped_;  // empty when parsed from the caller's bytes
  std::string source_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<GgufKeyValue> metadata_;
  std::unordered_map<std::string_view, size_t> metadata_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

}  // namespace medassist::formats
