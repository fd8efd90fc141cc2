// A small safetensors writer, for tests and for synthesising tiny models. It lays tensors out in
// the order they are added, back to back, after a header padded with spaces to a multiple of 8
// bytes (as the reference writer does, so that 8-byte-aligned loads of the first tensor work when
// the file itself is mapped aligned; readers must still not rely on it):
//
//   SafetensorsWriter w;
//   w.SetMetadata("format", "pt");
//   w.AddTensor("w", SafetensorsDtype::kF32, {2, 3}, bytes);  // bytes.size() == 24
//   RETURN_IF_ERROR(w.WriteToFile(path));
//
// Mistakes (a size that does not match the shape, a repeated name, the reserved name
// "__metadata__", text that is not UTF-8) are reported by WriteToString / WriteToFile.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "formats/safetensors_types.h"

namespace medassist::formats {

class SafetensorsWriter {
 public:
  // Sets "__metadata__"[key] (the last value set for a key wins).
  void SetMetadata(const std::string& key, const std::string& value);
  // Copies data, which must hold product(shape) * SafetensorsDtypeSize(dtype) bytes.
  void AddTensor(const std::string& name, SafetensorsDtype dtype, std::vector<uint64_t> shape,
                 std::span<const uint8_t> data);

  // The whole file.
  Result<std::string> WriteToString() const;
  // Writes WriteToString() to path, replacing any file there.
  Status WriteToFile(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    SafetensorsDtype dtype;
    std::vector<uint64_t> shape;
    std::vector<uint8_t> data;
  };
  std::map<std::string, std::string> metadata_;
  std::vector<Tensor> tensors_;
};

}  // namespace medassist::formats
