// Parsing and validation of GGUF files. The typed metadata getters live in gguf_metadata.cc.
//
// Every read goes through GgufParser's cursor, which checks the bytes left before reading, and
// every count is bounded by the bytes left (each element needs at least its minimum encoded size)
// before anything is allocated for it, so a hostile header cannot cause a large allocation.
#include "formats/gguf_reader.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "formats/gguf_util.h"

namespace medassist::formats {
namespace {

// Smallest encodings, used to bound counts by the bytes left before allocating:
// a kv pair is key length (8) + value type (4) + a 1-byte value; a tensor info is name length (8)
// + n_dims (4) + type (4) + offset (8); a string is its length (8); a nested array its element
// type (4) + count (8).
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;
constexpr uint64_t kMinStringBytes = 8;
constexpr uint64_t kMinNestedArrayBytes = 4 + 8;

}  // namespace

// Reads one file's bytes into a GgufFile. One instance per parse.
class GgufParser {
 public:
  GgufParser(std::span<const uint8_t> bytes, GgufFile& out) : bytes_(bytes), out_(out) {}

  Status Run() {
    uint64_t n_tensors = 0;
    uint64_t n_kv = 0;
    RETURN_IF_ERROR(ReadHeader(n_tensors, n_kv));
    RETURN_IF_ERROR(ReadMetadata(n_kv));
    RETURN_IF_ERROR(ReadAlignment());
    RETURN_IF_ERROR(ReadTensorInfos(n_tensors));
    return PlaceTensors();
  }

 private:
  size_t Remaining() const { return bytes_.size() - pos_; }

  // "<source>: <problem>", DATA_LOSS unless told otherwise.
  Status Fail(const std::string& problem, StatusCode code = StatusCode::kDataLoss) const {
    return Status(code, out_.source_ + ": " + problem);
  }

  Status Truncated(std::string_view what, uint64_t need) const {
    return Fail("truncated: " + std::string(what) + " needs " + std::to_string(need) +
                " bytes at byte " + std::to_string(pos_) + ", only " + std::to_string(Remaining()) +
                " left");
  }

  Result<std::span<const uint8_t>> ReadBytes(uint64_t n, std::string_view what) {
    if (n > Remaining()) return Truncated(what, n);
    std::span<const uint8_t> out = bytes_.subspan(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return out;
  }

  template <typename T>
  Result<T> ReadScalar(std::string_view what) {
    if (sizeof(T) > Remaining()) return Truncated(what, sizeof(T));
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }

  // A GGUF string: uint64 length, then that many bytes (not NUL-terminated, any bytes allowed).
  Result<std::string_view> ReadString(std::string_view what) {
    ASSIGN_OR_RETURN(const uint64_t len, ReadScalar<uint64_t>(what));
    if (len > Remaining()) {
      return Fail(std::string(what) + " has length " + std::to_string(len) + " at byte " +
                  std::to_string(pos_ - sizeof len) + ", past the end of the file (" +
                  std::to_string(Remaining()) + " bytes left)");
    }
    ASSIGN_OR_RETURN(std::span<const uint8_t> chars, ReadBytes(len, what));
    return std::string_view(reinterpret_cast<const char*>(chars.data()), chars.size());
  }

  Status ReadHeader(uint64_t& n_tensors, uint64_t& n_kv);
  Status ReadMetadata(uint64_t n_kv);
  Result<GgufValue> ReadValue(uint32_t tag, std::string_view key);
  Result<GgufValue> ReadArray(std::string_view key, int depth);
  Status ReadAlignment();
  Status ReadTensorInfos(uint64_t n_tensors);
  Result<GgufTensorInfo> ReadTensorInfo(uint64_t index);
  Status PlaceTensors();

  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
  GgufFile& out_;
};

Status GgufParser::ReadHeader(uint64_t& n_tensors, uint64_t& n_kv) {
  ASSIGN_OR_RETURN(std::span<const uint8_t> magic, ReadBytes(4, "magic"));
  if (std::memcmp(magic.data(), "GGUF", 4) != 0) {
    return Fail("not a GGUF file: magic is " +
                QuotePrintable({reinterpret_cast<const char*>(magic.data()), 4}) +
                ", expected 'GGUF'");
  }
  ASSIGN_OR_RETURN(const uint32_t version, ReadScalar<uint32_t>("version"));
  if (version == 1) {
    return Fail(
        "GGUF version 1 is not supported (it used 32-bit counts); re-convert the model with a "
        "current llama.cpp to get version 3",
        StatusCode::kUnimplemented);
  }
  if (version != 2 && version != 3) {
    // A big-endian writer puts the small version number in the high bytes.
    const bool byte_swapped = (version & 0xffffff) == 0 && (version >> 24) <= 3;
    return Fail("unsupported GGUF version " + std::to_string(version) +
                    (byte_swapped ? " (a big-endian file? only little-endian GGUF is supported)"
                                  : " (this reader knows versions 2 and 3)"),
                StatusCode::kUnimplemented);
  }
  out_.version_ = version;
  ASSIGN_OR_RETURN(n_tensors, ReadScalar<uint64_t>("tensor_count"));
  ASSIGN_OR_RETURN(n_kv, ReadScalar<uint64_t>("kv_count"));
  if (n_tensors > kGgufMaxTensors) {
    return Fail("tensor_count " + std::to_string(n_tensors) + " is over the limit of " +
                    std::to_string(kGgufMaxTensors),
                StatusCode::kResourceExhausted);
  }
  if (n_kv > kGgufMaxMetadataPairs) {
    return Fail("kv_count " + std::to_string(n_kv) + " is over the limit of " +
                    std::to_string(kGgufMaxMetadataPairs),
                StatusCode::kResourceExhausted);
  }
  if (n_kv > Remaining() / kMinKvBytes ||
      n_tensors > (Remaining() - n_kv * kMinKvBytes) / kMinTensorInfoBytes) {
    return Fail("kv_count " + std::to_string(n_kv) + " and tensor_count " +
                std::to_string(n_tensors) + " cannot fit in the " + std::to_string(Remaining()) +
                " bytes left in the file");
  }
  return Status::Ok();
}

Status GgufParser::ReadMetadata(uint64_t n_kv) {
  for (uint64_t i = 0; i < n_kv; ++i) {
    ASSIGN_OR_RETURN(const std::string_view key,
                     ReadString("key of metadata pair " + std::to_string(i)));
    const std::string what = "value type of metadata " + QuotePrintable(key);
    ASSIGN_OR_RETURN(const uint32_t tag, ReadScalar<uint32_t>(what));
    ASSIGN_OR_RETURN(GgufValue value, ReadValue(tag, key));
    if (!out_.metadata_index_.emplace(key, out_.metadata_.size()).second) {
      return Fail("duplicate metadata key " + QuotePrintable(key));
    }
    out_.metadata_.push_back({key, std::move(value)});
  }
  return Status::Ok();
}

Result<GgufValue> GgufParser::ReadValue(uint32_t tag, std::string_view key) {
  if (!GgufValueTypeIsKnown(tag)) {
    return Fail("metadata " + QuotePrintable(key) + " has unknown value type " +
                std::to_string(tag));
  }
  const auto type = static_cast<GgufValueType>(tag);
  if (type == GgufValueType::kArray) return ReadArray(key, 1);
  const std::string what = "value of metadata " + QuotePrintable(key);
  if (type == GgufValueType::kString) {
    ASSIGN_OR_RETURN(const std::string_view s, ReadString(what));
    return GgufValue::Scalar(type, {reinterpret_cast<const uint8_t*>(s.data()), s.size()});
  }
  ASSIGN_OR_RETURN(std::span<const uint8_t> b, ReadBytes(GgufValueTypeSize(type), what));
  return GgufValue::Scalar(type, b);
}

// An array body: uint32 element type, uint64 count, elements. depth is 1 for a top-level array.
Result<GgufValue> GgufParser::ReadArray(std::string_view key, int depth) {
  const std::string where = "array in metadata " + QuotePrintable(key);
  if (depth > kGgufMaxArrayDepth) {
    return Fail(where + " is nested deeper than " + std::to_string(kGgufMaxArrayDepth) + " levels");
  }
  ASSIGN_OR_RETURN(const uint32_t tag, ReadScalar<uint32_t>("element type of " + where));
  if (!GgufValueTypeIsKnown(tag)) {
    return Fail(where + " has unknown element type " + std::to_string(tag));
  }
  const auto type = static_cast<GgufValueType>(tag);
  ASSIGN_OR_RETURN(const uint64_t count, ReadScalar<uint64_t>("element count of " + where));
  const uint64_t min_size = type == GgufValueType::kString  ? kMinStringBytes
                            : type == GgufValueType::kArray ? kMinNestedArrayBytes
                                                            : GgufValueTypeSize(type);
  if (count > Remaining() / min_size) {
    return Fail(where + " has " + std::to_string(count) + " " +
                std::string(GgufValueTypeName(type)) + " elements, more than the " +
                std::to_string(Remaining()) + " bytes left can hold");
  }
  const size_t start = pos_;
  std::vector<GgufValue> nested;
  if (type == GgufValueType::kString) {
    const std::string what = "string element of " + where;
    for (uint64_t i = 0; i < count; ++i) RETURN_IF_ERROR(ReadString(what).status());
  } else if (type == GgufValueType::kArray) {
    nested.reserve(static_cast<size_t>(count));  // bounded above by Remaining() / 12
    for (uint64_t i = 0; i < count; ++i) {
      ASSIGN_OR_RETURN(GgufValue element, ReadArray(key, depth + 1));
      nested.push_back(std::move(element));
    }
  } else {
    pos_ += static_cast<size_t>(count * min_size);  // checked above
  }
  return GgufValue::Array(type, count, bytes_.subspan(start, pos_ - start), std::move(nested));
}

Status GgufParser::ReadAlignment() {
  const GgufValue* v = out_.Find("general.alignment");
  if (v == nullptr) return Status::Ok();
  if (v->type() != GgufValueType::kUint32) {
    return Fail("general.alignment must be UINT32, not " +
                std::string(GgufValueTypeName(v->type())));
  }
  const uint32_t alignment = static_cast<uint32_t>(*v->AsUint64());
  if (!std::has_single_bit(alignment)) {
    return Fail("general.alignment " + std::to_string(alignment) + " is not a power of two");
  }
  out_.alignment_ = alignment;
  return Status::Ok();
}

Status GgufParser::ReadTensorInfos(uint64_t n_tensors) {
  for (uint64_t i = 0; i < n_tensors; ++i) {
    ASSIGN_OR_RETURN(GgufTensorInfo info, ReadTensorInfo(i));
    if (!out_.tensor_index_.emplace(info.name, out_.tensors_.size()).second) {
      return Fail("duplicate tensor name " + QuotePrintable(info.name));
    }
    out_.tensors_.push_back(std::move(info));
  }
  return Status::Ok();
}

Result<GgufTensorInfo> GgufParser::ReadTensorInfo(uint64_t index) {
  GgufTensorInfo info;
  ASSIGN_OR_RETURN(info.name, ReadString("name of tensor " + std::to_string(index)));
  const std::string where = "tensor " + QuotePrintable(info.name);
  if (info.name.size() > kGgufMaxTensorName) {
    return Fail(where + ": name is " + std::to_string(info.name.size()) +
                " bytes, over the limit of " + std::to_string(kGgufMaxTensorName));
  }
  ASSIGN_OR_RETURN(const uint32_t n_dims, ReadScalar<uint32_t>("n_dims of " + where));
  if (n_dims > kGgufMaxDims) {
    return Fail(where + ": n_dims " + std::to_string(n_dims) + " exceeds the maximum of " +
                std::to_string(kGgufMaxDims));
  }
  info.dims.resize(n_dims);
  for (uint64_t& d : info.dims) {
    ASSIGN_OR_RETURN(d, ReadScalar<uint64_t>("dims of " + where));
  }
  ASSIGN_OR_RETURN(const uint32_t type, ReadScalar<uint32_t>("type of " + where));
  ASSIGN_OR_RETURN(info.offset, ReadScalar<uint64_t>("offset of " + where));
  Result<GgmlTensorSize> size = ComputeGgmlTensorSize(type, info.dims);
  if (!size.ok()) return size.status().WithContext(out_.source_ + ": " + where);
  info.type = static_cast<GgmlType>(type);
  info.n_elements = size->n_elements;
  info.n_bytes = size->n_bytes;
  return info;
}

// The data section starts at the first alignment boundary after the tensor infos. Each tensor must
// start at an aligned offset, end inside the file, and not overlap another.
Status GgufParser::PlaceTensors() {
  const uint64_t a = out_.alignment_;
  const uint64_t data_offset = (uint64_t{pos_} + a - 1) / a * a;
  const uint64_t data_size = data_offset < bytes_.size() ? bytes_.size() - data_offset : 0;
  out_.data_offset_ = data_offset;
  for (GgufTensorInfo& t : out_.tensors_) {
    const std::string where = "tensor " + QuotePrintable(t.name);
    if (t.offset % a != 0) {
      return Fail(where + ": offset " + std::to_string(t.offset) +
                  " is not a multiple of the alignment " + std::to_string(a));
    }
    if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
      return Fail(where + ": data at offset " + std::to_string(t.offset) + " + " +
                  std::to_string(t.n_bytes) + " bytes extends past the end of the file (the " +
                  "data section has " + std::to_string(data_size) + " bytes)");
    }
    t.data =
        bytes_.subspan(static_cast<size_t>(data_offset + t.offset), static_cast<size_t>(t.n_bytes));
  }
  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(out_.tensors_.size());
  for (const GgufTensorInfo& t : out_.tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo* x, const GgufTensorInfo* y) { return x->offset < y->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensorInfo& prev = *by_offset[i - 1];
    const GgufTensorInfo& cur = *by_offset[i];
    if (prev.offset + prev.n_bytes > cur.offset) {
      return Fail("tensors " + QuotePrintable(prev.name) + " and " + QuotePrintable(cur.name) +
                  " overlap (offsets " + std::to_string(prev.offset) + " + " +
                  std::to_string(prev.n_bytes) + " bytes and " + std::to_string(cur.offset) + ")");
    }
  }
  return Status::Ok();
}

Result<GgufFile> GgufFile::Parse(std::span<const uint8_t> bytes, std::string source_name) {
  GgufFile file;
  file.source_ = std::move(source_name);
  RETURN_IF_ERROR(GgufParser(bytes, file).Run());
  return file;
}

Result<GgufFile> GgufFile::Open(const std::string& path) {
  ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(path));
  ASSIGN_OR_RETURN(GgufFile file, Parse(mapped.bytes(), path));
  file.mapped_ = std::move(mapped);  // the views point into the mapping, which does not move
  return file;
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].value;
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace medassist::formats
