// Parsing and validation of safetensors files. The header is checked in this order: length, JSON
// nesting and syntax (ParseJson), duplicate keys (a SAX pass), then each entry; offsets are
// checked against the data section before any span is made, so no view can reach past the bytes.
#include "formats/safetensors_reader.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>

#include "formats/gguf_util.h"
#include "formats/json_util.h"
#include "formats/safetensors_json.h"

namespace medassist::formats {
namespace {

using Json = nlohmann::json;

// A JSON value for an error message: numbers as written, strings quoted and clipped, anything else
// by its type ("an array"), so that a hostile value cannot flood the message.
std::string Describe(const Json& v) {
  if (v.is_number()) return v.dump();
  if (v.is_string()) return "the string " + QuotePrintable(v.get_ref<const std::string&>());
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return "null";
}

std::string ShapeString(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string RangeString(uint64_t begin, uint64_t end) {
  std::string s = "[";  // appended piece by piece: "[" + to_string trips GCC 12's -Wrestrict
  s += std::to_string(begin);
  s += ", ";
  s += std::to_string(end);
  return s + "]";
}

// A JSON integer >= 0 (nlohmann stores non-negative literals as unsigned, "-0" as signed).
std::optional<uint64_t> AsNonNegativeInteger(const Json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0)
    return static_cast<uint64_t>(v.get<int64_t>());
  return std::nullopt;
}

}  // namespace

// Reads one file's bytes into a SafetensorsFile. One instance per parse.
class SafetensorsParser {
 public:
  SafetensorsParser(std::span<const uint8_t> bytes, SafetensorsFile& out)
      : bytes_(bytes), out_(out) {}

  Status Run() {
    ASSIGN_OR_RETURN(const Json header, ReadHeader());
    for (const auto& [key, value] : header.items()) {
      if (key == "__metadata__") {
        RETURN_IF_ERROR(ReadMetadata(value));
      } else {
        ASSIGN_OR_RETURN(SafetensorsTensor t, ReadEntry(key, value));
        out_.tensors_.push_back(std::move(t));
      }
    }
    return PlaceTensors();
  }

 private:
  // "<source>: <problem>", DATA_LOSS unless told otherwise.
  Status Fail(const std::string& problem, StatusCode code = StatusCode::kDataLoss) const {
    return Status(code, out_.source_ + ": " + problem);
  }

  Result<Json> ReadHeader();
  Status ReadMetadata(const Json& value);
  Result<SafetensorsTensor> ReadEntry(const std::string& name, const Json& entry);
  Status ReadShape(const Json& entry, const std::string& where, SafetensorsTensor& t);
  Status ReadOffsets(const Json& entry, const std::string& where, SafetensorsTensor& t);
  Status PlaceTensors();

  std::span<const uint8_t> bytes_;
  uint64_t data_size_ = 0;
  SafetensorsFile& out_;
};

Result<Json> SafetensorsParser::ReadHeader() {
  if (bytes_.size() < 8) {
    return Fail("file is " + std::to_string(bytes_.size()) +
                " bytes, too short for the 8-byte header length");
  }
  uint64_t n = 0;
  std::memcpy(&n, bytes_.data(), 8);  // little-endian, as every platform we build for
  const uint64_t after_length = bytes_.size() - 8;
  if (n > kSafetensorsMaxHeaderBytes) {
    return Fail("header length " + std::to_string(n) + " is over the limit of " +
                    std::to_string(kSafetensorsMaxHeaderBytes) + " bytes",
                StatusCode::kResourceExhausted);
  }
  if (n > after_length) {
    return Fail("header length " + std::to_string(n) + " is past the end of the file (" +
                std::to_string(after_length) + " bytes after the length)");
  }
  out_.data_offset_ = 8 + n;
  data_size_ = after_length - n;
  const std::string_view text(reinterpret_cast<const char*>(bytes_.data() + 8),
                              static_cast<size_t>(n));
  // nlohmann stops at a NUL byte as if the text ended there, so "{...}\0{...}" would parse as its
  // first part; JSON text cannot contain a raw NUL, so refuse it before parsing.
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos) {
    return Fail("header has a NUL byte at header byte " + std::to_string(nul) +
                " (not valid JSON text)");
  }
  const std::string where = out_.source_ + ": header";
  ASSIGN_OR_RETURN(Json header, ParseJson(text, where, kSafetensorsMaxJsonDepth));
  RETURN_IF_ERROR(CheckJsonUniqueKeys(text, where));
  if (!header.is_object()) {
    return Fail("header is " + Describe(header) + ", expected a JSON object of tensor entries");
  }
  return header;
}

Status SafetensorsParser::ReadMetadata(const Json& value) {
  if (!value.is_object()) {
    return Fail("__metadata__ is " + Describe(value) + ", expected an object of strings");
  }
  for (const auto& [key, v] : value.items()) {
    if (!v.is_string()) {
      return Fail("__metadata__ " + QuotePrintable(key) + " is " + Describe(v) +
                  ", expected a string");
    }
    out_.metadata_.emplace(key, v.get<std::string>());
  }
  return Status::Ok();
}

Result<SafetensorsTensor> SafetensorsParser::ReadEntry(const std::string& name, const Json& entry) {
  const std::string where = "tensor " + QuotePrintable(name);
  if (!entry.is_object()) {
    return Fail(where + ": entry is " + Describe(entry) +
                ", expected an object with dtype, shape and data_offsets");
  }
  SafetensorsTensor t;
  t.name = name;
  auto dtype = entry.find("dtype");
  if (dtype == entry.end()) return Fail(where + ": missing 'dtype'");
  if (!dtype->is_string()) {
    return Fail(where + ": 'dtype' is " + Describe(*dtype) + ", expected a string");
  }
  std::optional<SafetensorsDtype> parsed =
      ParseSafetensorsDtype(dtype->get_ref<const std::string&>());
  if (!parsed) {
    return Fail(where + ": unknown dtype " + QuotePrintable(dtype->get_ref<const std::string&>()));
  }
  t.dtype = *parsed;
  RETURN_IF_ERROR(ReadShape(entry, where, t));
  RETURN_IF_ERROR(ReadOffsets(entry, where, t));
  return t;
}

// Fills t.shape and t.n_elements, refusing counts that overflow 64 bits in elements or bytes.
Status SafetensorsParser::ReadShape(const Json& entry, const std::string& where,
                                    SafetensorsTensor& t) {
  auto shape = entry.find("shape");
  if (shape == entry.end()) return Fail(where + ": missing 'shape'");
  if (!shape->is_array()) {
    return Fail(where + ": 'shape' is " + Describe(*shape) + ", expected an array of dims");
  }
  if (shape->size() > kSafetensorsMaxDims) {
    return Fail(where + ": shape has " + std::to_string(shape->size()) +
                " dims, over the limit of " + std::to_string(kSafetensorsMaxDims));
  }
  for (size_t i = 0; i < shape->size(); ++i) {
    std::optional<uint64_t> d = AsNonNegativeInteger((*shape)[i]);
    if (!d) {
      return Fail(where + ": shape[" + std::to_string(i) + "] is " + Describe((*shape)[i]) +
                  ", expected a non-negative integer");
    }
    t.shape.push_back(*d);
  }
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  // Any zero dim makes the tensor empty, whatever the others are.
  const bool empty = std::find(t.shape.begin(), t.shape.end(), 0) != t.shape.end();
  t.n_elements = empty ? 0 : 1;
  for (uint64_t d : t.shape) {
    if (empty) break;
    if (t.n_elements > kMax / d) {
      return Fail(where + ": element count of shape " + ShapeString(t.shape) +
                  " overflows 64 bits");
    }
    t.n_elements *= d;
  }
  if (t.n_elements > kMax / SafetensorsDtypeSize(t.dtype)) {
    return Fail(where + ": byte size of " + std::string(SafetensorsDtypeName(t.dtype)) + " shape " +
                ShapeString(t.shape) + " overflows 64 bits");
  }
  return Status::Ok();
}

// Fills t.data_begin and checks [begin, end) against the shape and the data section (t.data is
// made in PlaceTensors, once every check has passed).
Status SafetensorsParser::ReadOffsets(const Json& entry, const std::string& where,
                                      SafetensorsTensor& t) {
  auto offsets = entry.find("data_offsets");
  if (offsets == entry.end()) return Fail(where + ": missing 'data_offsets'");
  std::optional<uint64_t> begin;
  std::optional<uint64_t> end;
  if (offsets->is_array() && offsets->size() == 2) {
    begin = AsNonNegativeInteger((*offsets)[0]);
    end = AsNonNegativeInteger((*offsets)[1]);
  }
  if (!begin || !end) {
    return Fail(where + ": 'data_offsets' must be [begin, end], two non-negative integers");
  }
  if (*begin > *end) {
    return Fail(where + ": data_offsets " + RangeString(*begin, *end) + " have begin after end");
  }
  if (*end > data_size_) {
    return Fail(where + ": data_offsets end " + std::to_string(*end) +
                " is past the end of the data section (" + std::to_string(data_size_) + " bytes)");
  }
  const uint64_t need = t.n_elements * SafetensorsDtypeSize(t.dtype);  // checked in ReadShape
  if (*end - *begin != need) {
    return Fail(where + ": data_offsets " + RangeString(*begin, *end) + " hold " +
                std::to_string(*end - *begin) + " bytes, but " +
                std::string(SafetensorsDtypeName(t.dtype)) + " shape " + ShapeString(t.shape) +
                " needs " + std::to_string(need));
  }
  t.data_begin = *begin;
  return Status::Ok();
}

// Sorts by offset, refuses overlapping non-empty tensors, then makes the data views and the index.
Status SafetensorsParser::PlaceTensors() {
  std::vector<SafetensorsTensor>& ts = out_.tensors_;
  for (SafetensorsTensor& t : ts) {
    const uint64_t n_bytes = t.n_elements * SafetensorsDtypeSize(t.dtype);
    t.data = bytes_.subspan(static_cast<size_t>(out_.data_offset_ + t.data_begin),
                            static_cast<size_t>(n_bytes));
  }
  std::sort(ts.begin(), ts.end(), [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
    if (a.data_begin != b.data_begin) return a.data_begin < b.data_begin;
    if (a.data.size() != b.data.size()) return a.data.size() < b.data.size();
    return a.name < b.name;
  });
  const SafetensorsTensor* prev = nullptr;  // the last non-empty tensor
  for (const SafetensorsTensor& t : ts) {
    if (t.data.empty()) continue;  // covers no bytes, so it overlaps nothing
    if (prev != nullptr && prev->data_begin + prev->data.size() > t.data_begin) {
      return Fail("tensors " + QuotePrintable(prev->name) + " and " + QuotePrintable(t.name) +
                  " overlap (data_offsets " +
                  RangeString(prev->data_begin, prev->data_begin + prev->data.size()) + " and " +
                  RangeString(t.data_begin, t.data_begin + t.data.size()) + ")");
    }
    prev = &t;
  }
  for (size_t i = 0; i < ts.size(); ++i) out_.index_.emplace(ts[i].name, i);
  return Status::Ok();
}

Result<SafetensorsFile> SafetensorsFile::Parse(std::span<const uint8_t> bytes, std::string source) {
  SafetensorsFile file;
  file.source_ = std::move(source);
  RETURN_IF_ERROR(SafetensorsParser(bytes, file).Run());
  return file;
}

Result<SafetensorsFile> SafetensorsFile::Open(const std::string& path) {
  ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(path));
  ASSIGN_OR_RETURN(SafetensorsFile file, Parse(mapped.bytes(), path));
  file.mapped_ = std::move(mapped);  // the views point into the mapping, which does not move
  return file;
}

const SafetensorsTensor* SafetensorsFile::Find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace medassist::formats
