// A safetensors writer that never holds the tensor data: the caller names every tensor (name,
// dtype, shape) up front, the header is written at once (offsets follow from the shapes), and the
// data is then appended in order, in chunks of any size. For files too large to build in memory,
// such as synthesised multi-GB checkpoints:
//
//   ASSIGN_OR_RETURN(auto w, SafetensorsStreamWriter::Create(path, specs, {{"format", "pt"}}));
//   for (...) RETURN_IF_ERROR(w.Append(chunk));  // tensor after tensor, back to back
//   RETURN_IF_ERROR(w.Finish());
//
// The layout matches SafetensorsWriter: tensors back to back in the order given, header JSON padded
// with spaces to a multiple of 8 bytes. The bytes go to path + ".tmp", which Finish() flushes and
// renames over path; a writer destroyed before Finish() (or after any error) removes the temporary
// file, so a half-written file never appears at path. There is no size limit (one file even past
// the 4-5 GB at which HF tooling usually shards).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "formats/safetensors_types.h"

namespace medassist::formats {

struct SafetensorsTensorSpec {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::kF32;
  std::vector<uint64_t> shape;
};

// Bytes of a tensor of that dtype and shape, or InvalidArgument when the product overflows.
// The 8-byte little-endian header length and the header JSON (tensors laid out in order,
// "__metadata__" first when given), padded with spaces to a multiple of 8. Shared by both writers.
Result<std::string> EncodeSafetensorsHeader(const std::vector<SafetensorsTensorSpec>& tensors,
                                            const std::vector<uint64_t>& tensor_bytes,
                                            const std::map<std::string, std::string>& metadata);

Result<uint64_t> SafetensorsTensorBytes(SafetensorsDtype dtype, const std::vector<uint64_t>& shape);

class SafetensorsStreamWriter {
 public:
  // Validates the specs (unique names, not "__metadata__", sizes that fit in 64 bits), creates
  // path + ".tmp" and writes the header. InvalidArgument for bad specs, IoError when the file
  // cannot be created or written.
  static Result<SafetensorsStreamWriter> Create(const std::string& path,
                                                std::vector<SafetensorsTensorSpec> tensors,
                                                const std::map<std::string, std::string>& metadata);

  SafetensorsStreamWriter(SafetensorsStreamWriter&& other) noexcept;
  SafetensorsStreamWriter& operator=(SafetensorsStreamWriter&&) = delete;
  SafetensorsStreamWriter(const SafetensorsStreamWriter&) = delete;
  SafetensorsStreamWriter& operator=(const SafetensorsStreamWriter&) = delete;
  // Removes the temporary file unless Finish() succeeded.
  ~SafetensorsStreamWriter();

  // Appends the next bytes of the current tensor. A chunk may not run past the end of the current
  // tensor (so that every chunk belongs to exactly one tensor); the next Append after a tensor's
  // last byte starts the next tensor. InvalidArgument when data runs past the tensor or the file.
  Status Append(std::span<const uint8_t> data);
  // The tensor that the next Append() writes into (== tensors().size() when all are complete).
  size_t current_tensor() const { return current_; }
  const std::vector<SafetensorsTensorSpec>& tensors() const { return tensors_; }
  // Total size of the finished file.
  uint64_t file_bytes() const { return file_bytes_; }

  // Checks that every tensor is complete, flushes, closes and renames the file into place.
  Status Finish();

 private:
  SafetensorsStreamWriter() = default;
  Status WriteAll(const uint8_t* data, size_t n);
  void Abandon();  // closes and removes the temporary file

  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
  std::vector<SafetensorsTensorSpec> tensors_;
  std::vector<uint64_t> tensor_bytes_;
  size_t current_ = 0;               // tensor being written
  uint64_t written_in_current_ = 0;  // its bytes so far
  uint64_t file_bytes_ = 0;
};

}  // namespace medassist::formats
