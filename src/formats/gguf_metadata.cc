// GgufFile's typed metadata getters: type checks and range checks with messages that name the
// source, the key, what was found and what was expected.
#include <limits>
#include <string>

#include "formats/gguf_reader.h"
#include "formats/gguf_util.h"

namespace medassist::formats {
namespace {

std::string TypeOf(const GgufValue& v) {
  if (v.type() != GgufValueType::kArray) return std::string(GgufValueTypeName(v.type()));
  return "ARRAY of " + std::string(GgufValueTypeName(v.array_type()));
}

bool IsIntegerType(GgufValueType t) {
  switch (t) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
      return true;
    default:
      return false;
  }
}

// The integer value of v as text, for "does not fit" messages.
std::string IntegerText(const GgufValue& v) {
  if (std::optional<int64_t> s = v.AsInt64()) return std::to_string(*s);
  if (std::optional<uint64_t> u = v.AsUint64()) return std::to_string(*u);
  return "?";
}

}  // namespace

std::string QuotePrintable(std::string_view s) {
  constexpr size_t kMaxShown = 80;
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (s.size() > kMaxShown) out += "...";
  out += "'";
  return out;
}

Status GgufFile::KeyError(std::string_view key, std::string_view problem) const {
  return DataLoss(source_ + ": metadata " + QuotePrintable(key) + " " + std::string(problem));
}

Result<const GgufValue*> GgufFile::FindOrError(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr)
    return NotFound(source_ + ": metadata key " + QuotePrintable(key) + " not found");
  return v;
}

Result<const GgufValue*> GgufFile::FindArrayOrError(std::string_view key,
                                                    std::string_view expected) const {
  ASSIGN_OR_RETURN(const GgufValue* v, FindOrError(key));
  if (v->type() != GgufValueType::kArray) {
    return KeyError(key, "is " + TypeOf(*v) + ", expected " + std::string(expected));
  }
  return v;
}

Result<std::string_view> GgufFile::GetString(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, FindOrError(key));
  std::optional<std::string_view> s = v->AsString();
  if (!s) return KeyError(key, "is " + TypeOf(*v) + ", expected STRING");
  return *s;
}

Result<uint64_t> GgufFile::GetUint64(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, FindOrError(key));
  if (!IsIntegerType(v->type())) {
    return KeyError(key, "is " + TypeOf(*v) + ", expected an unsigned integer");
  }
  std::optional<uint64_t> u = v->AsUint64();
  if (!u) return KeyError(key, "is " + IntegerText(*v) + ", expected an unsigned integer");
  return *u;
}

Result<uint32_t> GgufFile::GetUint32(std::string_view key) const {
  ASSIGN_OR_RETURN(const uint64_t u, GetUint64(key));
  if (u > std::numeric_limits<uint32_t>::max()) {
    return KeyError(key, "is " + std::to_string(u) + ", which does not fit in uint32");
  }
  return static_cast<uint32_t>(u);
}

Result<float> GgufFile::GetFloat32(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, FindOrError(key));
  std::optional<double> d = v->AsFloat64();
  if (!d) return KeyError(key, "is " + TypeOf(*v) + ", expected FLOAT32");
  return static_cast<float>(*d);
}

Result<bool> GgufFile::GetBool(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, FindOrError(key));
  std::optional<bool> b = v->AsBool();
  if (!b) return KeyError(key, "is " + TypeOf(*v) + ", expected BOOL");
  return *b;
}

Result<std::vector<std::string_view>> GgufFile::GetStringArray(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, FindArrayOrError(key, "ARRAY of STRING"));
  if (v->array_type() != GgufValueType::kString) {
    return KeyError(key, "is " + TypeOf(*v) + ", expected ARRAY of STRING");
  }
  return v->Strings();
}

Result<std::vector<float>> GgufFile::GetFloat32Array(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, FindArrayOrError(key, "ARRAY of FLOAT32"));
  if (v->array_type() != GgufValueType::kFloat32 && v->array_type() != GgufValueType::kFloat64) {
    return KeyError(key, "is " + TypeOf(*v) + ", expected ARRAY of FLOAT32");
  }
  std::vector<float> out(static_cast<size_t>(v->array_size()));
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(*v->Element(i).AsFloat64());
  return out;
}

Result<std::vector<int32_t>> GgufFile::GetInt32Array(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, FindArrayOrError(key, "ARRAY of INT32"));
  if (!IsIntegerType(v->array_type())) {
    return KeyError(key, "is " + TypeOf(*v) + ", expected ARRAY of INT32");
  }
  std::vector<int32_t> out(static_cast<size_t>(v->array_size()));
  for (size_t i = 0; i < out.size(); ++i) {
    const GgufValue e = v->Element(i);
    std::optional<int64_t> x = e.AsInt64();
    if (!x || *x < std::numeric_limits<int32_t>::min() ||
        *x > std::numeric_limits<int32_t>::max()) {
      return KeyError(key, "element " + std::to_string(i) + " is " + IntegerText(e) +
                               ", which does not fit in int32");
    }
    out[i] = static_cast<int32_t>(*x);
  }
  return out;
}

}  // namespace medassist::formats
