#include "formats/safetensors_stream_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "formats/gguf_util.h"

namespace medassist::formats {

Result<std::string> EncodeSafetensorsHeader(const std::vector<SafetensorsTensorSpec>& tensors,
                                            const std::vector<uint64_t>& tensor_bytes,
                                            const std::map<std::string, std::string>& metadata) {
  CHECK(tensors.size() == tensor_bytes.size());
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    header[tensors[i].name] = {{"dtype", SafetensorsDtypeName(tensors[i].dtype)},
                               {"shape", tensors[i].shape},
                               {"data_offsets", {offset, offset + tensor_bytes[i]}}};
    offset += tensor_bytes[i];
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const std::exception& e) {  // names that are not UTF-8
    return InvalidArgument(std::string("safetensors writer: ") + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t n = text.size();
  std::string out(reinterpret_cast<const char*>(&n), 8);  // little-endian hosts only
  return out + text;
}

Result<uint64_t> SafetensorsTensorBytes(SafetensorsDtype dtype,
                                        const std::vector<uint64_t>& shape) {
  uint64_t n_bytes = SafetensorsDtypeSize(dtype);
  bool overflow = false;
  for (uint64_t d : shape) overflow |= __builtin_mul_overflow(n_bytes, d, &n_bytes);
  if (overflow) return InvalidArgument("tensor size overflows 64 bits");
  return n_bytes;
}

Result<SafetensorsStreamWriter> SafetensorsStreamWriter::Create(
    const std::string& path, std::vector<SafetensorsTensorSpec> tensors,
    const std::map<std::string, std::string>& metadata) {
  SafetensorsStreamWriter w;
  std::set<std::string> names;
  uint64_t total = 0;
  for (const SafetensorsTensorSpec& t : tensors) {
    const std::string where = "safetensors stream writer: tensor " + QuotePrintable(t.name);
    if (t.name == "__metadata__") return InvalidArgument(where + ": the name is reserved");
    if (!names.insert(t.name).second) return InvalidArgument(where + ": given twice");
    Result<uint64_t> n = SafetensorsTensorBytes(t.dtype, t.shape);
    if (!n.ok() || __builtin_add_overflow(total, *n, &total)) {
      return InvalidArgument(where + ": the data size overflows 64 bits");
    }
    w.tensor_bytes_.push_back(*n);
  }
  ASSIGN_OR_RETURN(const std::string header,
                   EncodeSafetensorsHeader(tensors, w.tensor_bytes_, metadata));
  w.path_ = path;
  w.tmp_path_ = path + ".tmp";
  w.tensors_ = std::move(tensors);
  w.file_bytes_ = header.size() + total;
  w.fd_ = ::open(w.tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w.fd_ < 0) {
    return IoError(w.tmp_path_ + ": cannot create the file: " + std::strerror(errno));
  }
  RETURN_IF_ERROR(w.WriteAll(reinterpret_cast<const uint8_t*>(header.data()), header.size()));
  while (w.current_ < w.tensors_.size() && w.tensor_bytes_[w.current_] == 0) ++w.current_;
  return w;
}

SafetensorsStreamWriter::SafetensorsStreamWriter(SafetensorsStreamWriter&& other) noexcept
    : path_(std::move(other.path_)),
      tmp_path_(std::move(other.tmp_path_)),
      fd_(std::exchange(other.fd_, -1)),
      tensors_(std::move(other.tensors_)),
      tensor_bytes_(std::move(other.tensor_bytes_)),
      current_(other.current_),
      written_in_current_(other.written_in_current_),
      file_bytes_(other.file_bytes_) {}

SafetensorsStreamWriter::~SafetensorsStreamWriter() { Abandon(); }

void SafetensorsStreamWriter::Abandon() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  ::unlink(tmp_path_.c_str());
}

Status SafetensorsStreamWriter::WriteAll(const uint8_t* data, size_t n) {
  while (n > 0) {
    const ssize_t done = ::write(fd_, data, n);
    if (done < 0 && errno == EINTR) continue;
    if (done <= 0) {
      Status st = IoError(tmp_path_ + ": write failed: " + std::strerror(errno));
      Abandon();
      return st;
    }
    data += done;
    n -= static_cast<size_t>(done);
  }
  return Status::Ok();
}

Status SafetensorsStreamWriter::Append(std::span<const uint8_t> data) {
  if (fd_ < 0) return InvalidArgument(tmp_path_ + ": Append after Finish or a failed write");
  if (data.empty()) return Status::Ok();
  if (current_ >= tensors_.size()) {
    return InvalidArgument(tmp_path_ + ": " + std::to_string(data.size()) +
                           " bytes appended after the last tensor");
  }
  const uint64_t left = tensor_bytes_[current_] - written_in_current_;
  if (data.size() > left) {
    return InvalidArgument(tmp_path_ + ": tensor " + QuotePrintable(tensors_[current_].name) +
                           " has " + std::to_string(left) + " bytes left, " +
                           std::to_string(data.size()) + " appended");
  }
  RETURN_IF_ERROR(WriteAll(data.data(), data.size()));
  written_in_current_ += data.size();
  while (current_ < tensors_.size() && written_in_current_ == tensor_bytes_[current_]) {
    ++current_;
    written_in_current_ = 0;
  }
  return Status::Ok();
}

Status SafetensorsStreamWriter::Finish() {
  if (fd_ < 0) return InvalidArgument(tmp_path_ + ": Finish after Finish or a failed write");
  if (current_ < tensors_.size()) {
    Status st = InvalidArgument(tmp_path_ + ": tensor " + QuotePrintable(tensors_[current_].name) +
                                " is incomplete (" + std::to_string(written_in_current_) + " of " +
                                std::to_string(tensor_bytes_[current_]) + " bytes)");
    Abandon();
    return st;
  }
  Status st = Status::Ok();
  if (::fsync(fd_) != 0) st = IoError(tmp_path_ + ": fsync failed: " + std::strerror(errno));
  if (::close(fd_) != 0 && st.ok()) {
    st = IoError(tmp_path_ + ": close failed: " + std::strerror(errno));
  }
  fd_ = -1;
  if (st.ok() && ::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    st = IoError(path_ + ": cannot rename the temporary file into place: " + std::strerror(errno));
  }
  if (!st.ok()) ::unlink(tmp_path_.c_str());
  return st;
}

}  // namespace medassist::formats
