// Hardened safetensors reader. A safetensors file is an 8-byte little-endian uint64 N, then N bytes
// of UTF-8 JSON, then the data section:
//
//   {"__metadata__": {"format": "pt"},                       <- optional, string -> string
//    "model.embed_tokens.weight": {"dtype": "F32", "shape": [512, 64],
//                                  "data_offsets": [0, 131072]}, ...}
//
// data_offsets are [begin, end) byte offsets relative to the first byte after the header. Files are
// hostile input: the header length, every dtype, dim and offset is checked against the bytes that
// are actually there, and every refusal is a Status naming the source and the problem:
//
//   ASSIGN_OR_RETURN(SafetensorsFile st, SafetensorsFile::Open(path));
//   const SafetensorsTensor* embd = st.Find("model.embed_tokens.weight");
//
// What is accepted beyond the strictest writers: gaps between tensors and bytes after the last one
// (data outside every tensor is ignored), entry fields other than dtype/shape/data_offsets, and
// zero-size tensors (empty data; they may sit anywhere, even inside another tensor's span).
//
// Alignment: the format does not align tensor data (the data section starts at byte 8 + N, and N
// need not be a multiple of anything), so a tensor's data span may start at any address. Consumers
// must not assume alignment: copy or memcpy-load elements instead of casting the pointer.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/file.h"
#include "core/status.h"
#include "formats/safetensors_types.h"

namespace medassist::formats {

// Headers longer than this are refused before anything is parsed (the reference implementation's
// limit too): a real header is kilobytes, and a parsed JSON DOM costs many times its text.
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;
// A shape with more dims than this is refused (real tensors have at most a handful).
inline constexpr size_t kSafetensorsMaxDims = 32;
// The [ and { nesting a valid header needs is 3; deeper is refused before parsing.
inline constexpr int kSafetensorsMaxJsonDepth = 16;

struct SafetensorsTensor {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::kF32;
  std::vector<uint64_t> shape;  // row-major, outermost first (PyTorch order); [] is a scalar
  uint64_t n_elements = 0;      // product of shape (1 for a scalar)
  uint64_t data_begin = 0;      // data_offsets, relative to the data section
  // n_elements * SafetensorsDtypeSize(dtype) bytes, little-endian, possibly unaligned (see above).
  std::span<const uint8_t> data;
};

class SafetensorsFile {
 public:
  // Memory-maps the file at path and parses it. Errors name the path.
  static Result<SafetensorsFile> Open(const std::string& path);
  // Parses bytes that the caller keeps alive and unchanged for the lifetime of the returned file
  // and of every view taken from it (no copy is made). source names the bytes in error messages.
  static Result<SafetensorsFile> Parse(std::span<const uint8_t> bytes, std::string source);

  SafetensorsFile(SafetensorsFile&&) = default;
  SafetensorsFile& operator=(SafetensorsFile&&) = default;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& source() const { return source_; }
  // The header's "__metadata__" (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Every tensor, sorted by data offset (ties, which only zero-size tensors can make, by name).
  // JSON object order is not kept: the header is a map, and offset order is the file's layout.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  // nullptr when there is no tensor of that name.
  const SafetensorsTensor* Find(std::string_view name) const;
  // Byte offset of the data section from the start of the file (8 + header length).
  uint64_t data_offset() const { return data_offset_; }

 private:
  SafetensorsFile() = default;
  friend class SafetensorsParser;

  MappedFile mapped_;  // empty when parsed from the caller's bytes
  std::string source_;
  uint64_t data_offset_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, size_t, std::less<>> index_;  // name -> position in tensors_
};

}  // namespace medassist::formats
