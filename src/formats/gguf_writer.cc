#include "formats/gguf_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "formats/gguf_util.h"

namespace medassist::formats {
namespace {

static_assert(std::endian::native == std::endian::little, "GGUF is written in host byte order");

constexpr std::string_view kAlignmentKey = "general.alignment";

void AppendRaw(std::string& out, const void* p, size_t n) {
  out.append(static_cast<const char*>(p), n);
}
void AppendU32(std::string& out, uint32_t v) { AppendRaw(out, &v, sizeof v); }
void AppendU64(std::string& out, uint64_t v) { AppendRaw(out, &v, sizeof v); }
void AppendString(std::string& out, std::string_view s) {
  AppendU64(out, s.size());
  out.append(s);
}

Status WriteAll(int fd, const void* p, size_t n, const std::string& path) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t done = ::write(fd, c, n);
    if (done < 0 && errno == EINTR) continue;
    if (done < 0) return IoError(path + ": write failed: " + std::strerror(errno));
    c += done;
    n -= static_cast<size_t>(done);
  }
  return Status::Ok();
}

Status WriteZeros(int fd, uint64_t n, const std::string& path) {
  static constexpr char kZeros[4096] = {};
  while (n > 0) {
    const size_t chunk = n < sizeof kZeros ? static_cast<size_t>(n) : sizeof kZeros;
    RETURN_IF_ERROR(WriteAll(fd, kZeros, chunk, path));
    n -= chunk;
  }
  return Status::Ok();
}

}  // namespace

void GgufWriter::SetError(Status status) {
  if (status_.ok()) status_ = std::move(status);
}

bool GgufWriter::BeginKv(std::string_view key, GgufValueType type) {
  if (!status_.ok()) return false;
  if (key == kAlignmentKey && type != GgufValueType::kUint32) {
    SetError(InvalidArgument("GGUF writer: general.alignment must be UINT32, not " +
                             std::string(GgufValueTypeName(type))));
    return false;
  }
  if (!keys_.emplace(key).second) {
    SetError(InvalidArgument("GGUF writer: duplicate metadata key " + QuotePrintable(key)));
    return false;
  }
  AppendString(kv_bytes_, key);
  AppendU32(kv_bytes_, static_cast<uint32_t>(type));
  ++n_kv_;
  return true;
}

void GgufWriter::AppendScalar(GgufValueType type, const void* value) {
  AppendRaw(kv_bytes_, value, GgufValueTypeSize(type));
}

#define MEDASSIST_GGUF_SCALAR_ADDER(Name, CType, Tag)        \
  void GgufWriter::Name(std::string_view key, CType value) { \
    if (BeginKv(key, GgufValueType::Tag)) {                  \
      AppendScalar(GgufValueType::Tag, &value);              \
    }                                                        \
  }
MEDASSIST_GGUF_SCALAR_ADDER(AddUint8, uint8_t, kUint8)
MEDASSIST_GGUF_SCALAR_ADDER(AddInt8, int8_t, kInt8)
MEDASSIST_GGUF_SCALAR_ADDER(AddUint16, uint16_t, kUint16)
MEDASSIST_GGUF_SCALAR_ADDER(AddInt16, int16_t, kInt16)
MEDASSIST_GGUF_SCALAR_ADDER(AddInt32, int32_t, kInt32)
MEDASSIST_GGUF_SCALAR_ADDER(AddUint64, uint64_t, kUint64)
MEDASSIST_GGUF_SCALAR_ADDER(AddInt64, int64_t, kInt64)
MEDASSIST_GGUF_SCALAR_ADDER(AddFloat32, float, kFloat32)
MEDASSIST_GGUF_SCALAR_ADDER(AddFloat64, double, kFloat64)
#undef MEDASSIST_GGUF_SCALAR_ADDER

void GgufWriter::AddUint32(std::string_view key, uint32_t value) {
  if (key == kAlignmentKey && !std::has_single_bit(value)) {
    SetError(InvalidArgument("GGUF writer: general.alignment " + std::to_string(value) +
                             " is not a power of two"));
    return;
  }
  if (!BeginKv(key, GgufValueType::kUint32)) return;
  AppendScalar(GgufValueType::kUint32, &value);
  if (key == kAlignmentKey) alignment_ = value;
}

void GgufWriter::AddBool(std::string_view key, bool value) {
  const uint8_t byte = value ? 1 : 0;
  if (BeginKv(key, GgufValueType::kBool)) AppendScalar(GgufValueType::kBool, &byte);
}

void GgufWriter::AddString(std::string_view key, std::string_view value) {
  if (BeginKv(key, GgufValueType::kString)) AppendString(kv_bytes_, value);
}

void GgufWriter::AddFixedArray(std::string_view key, GgufValueType type, size_t count,
                               std::span<const uint8_t> bytes) {
  if (!BeginKv(key, GgufValueType::kArray)) return;
  AppendU32(kv_bytes_, static_cast<uint32_t>(type));
  AppendU64(kv_bytes_, count);
  if (type == GgufValueType::kBool) {
    // A C++ bool is 0 or 1 in practice, but write exactly 0/1 rather than rely on it.
    for (uint8_t b : bytes) kv_bytes_.push_back(b != 0 ? 1 : 0);
  } else {
    AppendRaw(kv_bytes_, bytes.data(), bytes.size());
  }
}

template <typename Strings>
void GgufWriter::AddStrings(std::string_view key, const Strings& values) {
  if (!BeginKv(key, GgufValueType::kArray)) return;
  size_t total = sizeof(uint32_t) + sizeof(uint64_t);
  for (const auto& s : values) total += sizeof(uint64_t) + s.size();
  kv_bytes_.reserve(kv_bytes_.size() + total);  // one allocation for the whole list
  AppendU32(kv_bytes_, static_cast<uint32_t>(GgufValueType::kString));
  AppendU64(kv_bytes_, values.size());
  for (const auto& s : values) AppendString(kv_bytes_, s);
}

void GgufWriter::AddStringArray(std::string_view key, std::span<const std::string> values) {
  AddStrings(key, values);
}

void GgufWriter::AddStringArray(std::string_view key, std::span<const std::string_view> values) {
  AddStrings(key, values);
}

void GgufWriter::AddValue(std::string_view key, const GgufValue& value) {
  if (key == kAlignmentKey && value.type() == GgufValueType::kUint32) {
    AddUint32(key, static_cast<uint32_t>(*value.AsUint64()));
    return;
  }
  const size_t fixed_size = GgufValueTypeSize(value.type());
  if (fixed_size != 0 && value.payload().size() != fixed_size) {
    return SetError(InvalidArgument("GGUF writer: metadata " + QuotePrintable(key) +
                                    ": the value holds no " +
                                    std::string(GgufValueTypeName(value.type()))));
  }
  if (!BeginKv(key, value.type())) return;
  // The payload is the value's encoding minus its headers (see GgufValue::payload), so put the
  // headers back and copy it verbatim; nested arrays come along inside it.
  if (value.type() == GgufValueType::kString) {
    AppendU64(kv_bytes_, value.payload().size());
  } else if (value.type() == GgufValueType::kArray) {
    AppendU32(kv_bytes_, static_cast<uint32_t>(value.array_type()));
    AppendU64(kv_bytes_, value.array_size());
  }
  AppendRaw(kv_bytes_, value.payload().data(), value.payload().size());
}

bool GgufWriter::CheckTensor(std::string_view name, GgmlType type, std::span<const uint64_t> dims,
                             const uint64_t* data_size, uint64_t* n_bytes) {
  if (!status_.ok()) return false;
  const std::string where = "GGUF writer: tensor " + QuotePrintable(name);
  if (name.size() > kGgufMaxTensorName) {
    SetError(InvalidArgument(where + ": name is " + std::to_string(name.size()) +
                             " bytes, over the limit of " + std::to_string(kGgufMaxTensorName)));
    return false;
  }
  Result<GgmlTensorSize> size = ComputeGgmlTensorSize(static_cast<uint32_t>(type), dims);
  if (!size.ok()) {
    SetError(InvalidArgument(where + ": " + size.status().message()));
    return false;
  }
  if (data_size != nullptr && *data_size != size->n_bytes) {
    SetError(InvalidArgument(where + ": data is " + std::to_string(*data_size) +
                             " bytes, expected " + std::to_string(size->n_bytes) + " for " +
                             std::string(GgmlTypeName(type)) + " of " +
                             std::to_string(size->n_elements) + " elements"));
    return false;
  }
  if (!tensor_names_.emplace(name).second) {
    SetError(InvalidArgument("GGUF writer: duplicate tensor name " + QuotePrintable(name)));
    return false;
  }
  *n_bytes = size->n_bytes;
  return true;
}

void GgufWriter::AddTensor(std::string_view name, GgmlType type, std::span<const uint64_t> dims,
                           std::span<const uint8_t> data) {
  Tensor t;
  const uint64_t data_size = data.size();
  if (!CheckTensor(name, type, dims, &data_size, &t.n_bytes)) return;
  t.owned.assign(data.begin(), data.end());
  PushTensor(name, type, dims, std::move(t));
}

void GgufWriter::AddTensorView(std::string_view name, GgmlType type, std::span<const uint64_t> dims,
                               std::span<const uint8_t> data) {
  Tensor t;
  const uint64_t data_size = data.size();
  if (!CheckTensor(name, type, dims, &data_size, &t.n_bytes)) return;
  t.view = data;
  PushTensor(name, type, dims, std::move(t));
}

void GgufWriter::AddTensorProducer(std::string_view name, GgmlType type,
                                   std::span<const uint64_t> dims, TensorProducer produce) {
  if (status_.ok() && !produce) {
    return SetError(
        InvalidArgument("GGUF writer: tensor " + QuotePrintable(name) + ": no producer"));
  }
  Tensor t;
  if (!CheckTensor(name, type, dims, nullptr, &t.n_bytes)) return;
  t.produce = std::move(produce);
  PushTensor(name, type, dims, std::move(t));
}

void GgufWriter::PushTensor(std::string_view name, GgmlType type, std::span<const uint64_t> dims,
                            Tensor t) {
  t.name = std::string(name);
  t.type = type;
  t.dims.assign(dims.begin(), dims.end());
  tensors_.push_back(std::move(t));
}

Result<std::span<const uint8_t>> GgufWriter::TensorData(const Tensor& t,
                                                        std::vector<uint8_t>* scratch) const {
  if (!t.produce) {
    if (!t.owned.empty()) return std::span<const uint8_t>(t.owned);
    return t.view;
  }
  // assign, not resize: a producer is promised zeroed bytes, whatever the last one left.
  scratch->assign(static_cast<size_t>(t.n_bytes), 0);
  std::span<uint8_t> out(*scratch);
  RETURN_IF_ERROR(t.produce(out).WithContext("GGUF writer: tensor " + QuotePrintable(t.name)));
  return std::span<const uint8_t>(out);
}

Status GgufWriter::CheckWritable() const {
  if (!status_.ok()) return status_;
  if (tensors_.size() > kGgufMaxTensors || n_kv_ > kGgufMaxMetadataPairs) {
    return ResourceExhausted("GGUF writer: " + std::to_string(tensors_.size()) + " tensors and " +
                             std::to_string(n_kv_) +
                             " metadata pairs, over the reader's limit of " +
                             std::to_string(kGgufMaxTensors) + " each");
  }
  return Status::Ok();
}

std::string GgufWriter::EncodeHeader() const {
  std::string out;
  out.reserve(24 + kv_bytes_.size() + tensors_.size() * 96);  // not + alignment_: may be 2^31
  out.append("GGUF");
  AppendU32(out, 3);
  AppendU64(out, tensors_.size());
  AppendU64(out, n_kv_);
  out.append(kv_bytes_);
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    AppendString(out, t.name);
    AppendU32(out, static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) AppendU64(out, d);
    AppendU32(out, static_cast<uint32_t>(t.type));
    AppendU64(out, offset);
    offset += PaddedSize(t.n_bytes);
  }
  // No data section without tensors: padding to a large general.alignment would only waste space.
  if (!tensors_.empty()) out.resize(PaddedSize(out.size()), '\0');
  return out;
}

Result<std::string> GgufWriter::WriteToString() const {
  RETURN_IF_ERROR(CheckWritable());
  std::string out = EncodeHeader();
  std::vector<uint8_t> scratch;
  for (const Tensor& t : tensors_) {
    ASSIGN_OR_RETURN(std::span<const uint8_t> data, TensorData(t, &scratch));
    AppendRaw(out, data.data(), data.size());
    out.resize(PaddedSize(out.size()), '\0');
  }
  return out;
}

Status GgufWriter::WriteToFile(const std::string& path) const {
  RETURN_IF_ERROR(CheckWritable());
  std::string tmp = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return IoError(path + ": cannot create a temporary file: " + std::strerror(errno));
  Status st = [&]() -> Status {
    RETURN_IF_ERROR(::fchmod(fd, 0644) == 0 ? Status::Ok()
                                            : IoError(tmp + ": chmod: " + std::strerror(errno)));
    const std::string header = EncodeHeader();
    RETURN_IF_ERROR(WriteAll(fd, header.data(), header.size(), tmp));
    std::vector<uint8_t> scratch;  // the largest produced tensor, reused
    for (const Tensor& t : tensors_) {
      ASSIGN_OR_RETURN(std::span<const uint8_t> data, TensorData(t, &scratch));
      RETURN_IF_ERROR(WriteAll(fd, data.data(), data.size(), tmp));
      RETURN_IF_ERROR(WriteZeros(fd, PaddedSize(data.size()) - data.size(), tmp));
    }
    if (::fsync(fd) != 0) return IoError(tmp + ": fsync failed: " + std::strerror(errno));
    return Status::Ok();
  }();
  if (::close(fd) != 0 && st.ok()) st = IoError(tmp + ": close failed: " + std::strerror(errno));
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    st = IoError(path + ": cannot rename the temporary file into place: " + std::strerror(errno));
  }
  if (!st.ok()) ::unlink(tmp.c_str());
  return st;
}

}  // namespace medassist::formats
