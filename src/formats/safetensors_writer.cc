#include "formats/safetensors_writer.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>

#include "formats/gguf_util.h"

namespace medassist::formats {

void SafetensorsWriter::SetMetadata(const std::string& key, const std::string& value) {
  metadata_[key] = value;
}

void SafetensorsWriter::AddTensor(const std::string& name, SafetensorsDtype dtype,
                                  std::vector<uint64_t> shape, std::span<const uint8_t> data) {
  tensors_.push_back({name, dtype, std::move(shape), {data.begin(), data.end()}});
}

Result<std::string> SafetensorsWriter::WriteToString() const {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    const std::string where = "safetensors writer: tensor " + QuotePrintable(t.name);
    if (t.name == "__metadata__") return InvalidArgument(where + ": the name is reserved");
    if (!names.insert(t.name).second) return InvalidArgument(where + ": added twice");
    uint64_t n_bytes = SafetensorsDtypeSize(t.dtype);
    bool overflow = false;
    for (uint64_t d : t.shape) overflow |= __builtin_mul_overflow(n_bytes, d, &n_bytes);
    if (overflow || t.data.size() != n_bytes) {
      return InvalidArgument(where + ": " + std::to_string(t.data.size()) +
                             " bytes of data do not match its shape and dtype");
    }
    header[t.name] = {{"dtype", SafetensorsDtypeName(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.data.size()}}};
    offset += t.data.size();
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("safetensors writer: ") + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t n = text.size();
  std::string out(reinterpret_cast<const char*>(&n), 8);  // little-endian hosts only
  out += text;
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
