#include "formats/safetensors_writer.h"

#include <fstream>
#include <set>

#include "formats/gguf_util.h"
#include "formats/safetensors_stream_writer.h"

namespace medassist::formats {

void SafetensorsWriter::SetMetadata(const std::string& key, const std::string& value) {
  metadata_[key] = value;
}

void SafetensorsWriter::AddTensor(const std::string& name, SafetensorsDtype dtype,
                                  std::vector<uint64_t> shape, std::span<const uint8_t> data) {
  tensors_.push_back({name, dtype, std::move(shape), {data.begin(), data.end()}});
}

Result<std::string> SafetensorsWriter::WriteToString() const {
  std::set<std::string> names;
  std::vector<SafetensorsTensorSpec> specs;
  std::vector<uint64_t> sizes;
  for (const Tensor& t : tensors_) {
    const std::string where = "safetensors writer: tensor " + QuotePrintable(t.name);
    if (t.name == "__metadata__") return InvalidArgument(where + ": the name is reserved");
    if (!names.insert(t.name).second) return InvalidArgument(where + ": added twice");
    Result<uint64_t> n_bytes = SafetensorsTensorBytes(t.dtype, t.shape);
    if (!n_bytes.ok() || t.data.size() != *n_bytes) {
      return InvalidArgument(where + ": " + std::to_string(t.data.size()) +
                             " bytes of data do not match its shape and dtype");
    }
    specs.push_back({t.name, t.dtype, t.shape});
    sizes.push_back(*n_bytes);
  }
  ASSIGN_OR_RETURN(std::string out, EncodeSafetensorsHeader(specs, sizes, metadata_));
  for (const Tensor& t : tensors_) out.append(t.data.begin(), t.data.end());
  return out;
}

Status SafetensorsWriter::WriteToFile(const std::string& path) const {
  ASSIGN_OR_RETURN(const std::string bytes, WriteToString());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return IoError(path + ": cannot write the safetensors file");
  return Status::Ok();
}

}  // namespace medassist::formats
