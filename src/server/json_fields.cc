#include "server/json_fields.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace medassist::server {

bool FieldReader::Has(const char* name) const { return Raw(name) != nullptr; }

const nlohmann::json* FieldReader::Raw(const char* name) const {
  auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

void FieldReader::Fail(const std::string& field, std::string message) {
  if (!error_) error_ = InvalidRequest(std::move(message), Param(field));
}

void FieldReader::WrongType(const char* name, const char* expected) {
  const nlohmann::json* v = Raw(name);
  Fail(name, fmt::format("'{}' must be {}, not {}", Param(name), expected,
                         v != nullptr ? v->type_name() : "null"));
}

std::optional<double> FieldReader::Number(const char* name, double lo, double hi) {
  const nlohmann::json* v = Raw(name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number()) {
    WrongType(name, "a number");
    return std::nullopt;
  }
  double x = v->get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) {
    Fail(name, fmt::format("'{}' must be in [{}, {}]; got {}", Param(name), lo, hi, v->dump()));
    return std::nullopt;
  }
  return x;
}

std::optional<int64_t> FieldReader::Integer(const char* name, int64_t lo, int64_t hi) {
  const nlohmann::json* v = Raw(name);
  if (v == nullptr) return std::nullopt;
  bool integral =
      v->is_number_integer() || (v->is_number_float() && std::isfinite(v->get<double>()) &&
                                 std::floor(v->get<double>()) == v->get<double>());
  if (!integral) {
    WrongType(name, "an integer");
    return std::nullopt;
  }
  // Convert only what int64 holds, then compare exactly: through double, INT64_MAX rounds up to
  // 2^63, so 2^63 (as 9223372036854775808 or 9.223372036854775808e18) would pass and then wrap or
  // overflow the cast (UB).
  std::optional<int64_t> x;
  if (v->is_number_unsigned()) {
    if (v->get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      x = static_cast<int64_t>(v->get<uint64_t>());
    }
  } else if (v->is_number_integer()) {
    x = v->get<int64_t>();
  } else if (v->get<double>() >= -0x1p63 && v->get<double>() < 0x1p63) {
    x = static_cast<int64_t>(v->get<double>());
  }
  if (!x || *x < lo || *x > hi) {
    Fail(name, fmt::format("'{}' must be in [{}, {}]; got {}", Param(name), lo, hi, v->dump()));
    return std::nullopt;
  }
  return x;
}

std::optional<bool> FieldReader::Bool(const char* name) {
  const nlohmann::json* v = Raw(name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) {
    WrongType(name, "a boolean");
    return std::nullopt;
  }
  return v->get<bool>();
}

std::optional<std::string> FieldReader::String(const char* name) {
  const nlohmann::json* v = Raw(name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    WrongType(name, "a string");
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::optional<std::vector<std::string>> FieldReader::StringOrList(const char* name,
                                                                  size_t max_items) {
  const nlohmann::json* v = Raw(name);
  if (v == nullptr) return std::nullopt;
  std::vector<std::string> items;
  if (v->is_string()) {
    items.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    if (v->size() > max_items) {
      Fail(name,
           fmt::format("'{}' takes at most {} items; got {}", Param(name), max_items, v->size()));
      return std::nullopt;
    }
    for (const nlohmann::json& item : *v) {
      if (!item.is_string()) {
        WrongType(name, "a string or an array of strings");
        return std::nullopt;
      }
      items.push_back(item.get<std::string>());
    }
  } else {
    WrongType(name, "a string or an array of strings");
    return std::nullopt;
  }
  for (const std::string& s : items) {
    if (s.empty()) {
      Fail(name, fmt::format("'{}' may not contain an empty string", Param(name)));
      return std::nullopt;
    }
  }
  return items;
}

std::optional<ApiError> ParseJsonObject(const std::string& body, nlohmann::json* out) {
  *out = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) {
    return InvalidRequest(
        "We could not parse the JSON body of your request: it is not valid JSON (or not valid "
        "UTF-8). Send a JSON object with Content-Type: application/json.");
  }
  if (!out->is_object()) {
    return InvalidRequest(
        fmt::format("The request body must be a JSON object, not {}.", out->type_name()));
  }
  return std::nullopt;
}

}  // namespace medassist::server
