// Reading a request's optional fields with the API's validation. A field of the wrong type or out
// of range becomes an ApiError naming it in `param`; the first error wins, so a parser reads its
// fields in a straight line and checks error() once at the end. JSON null counts as absent (the
// official clients send nulls for unset fields).
//
//   FieldReader f(body);
//   std::optional<double> t = f.Number("temperature", 0, 2);
//   std::optional<int64_t> n = f.Integer("n", 1, 4);
//   if (f.error()) return *f.error();
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/api_error.h"

namespace medassist::server {

class FieldReader {
 public:
  // object must be a JSON object and outlive the reader; prefix names nested fields
  // ("stream_options." gives param "stream_options.include_usage").
  explicit FieldReader(const nlohmann::json& object, std::string prefix = "")
      : object_(object), prefix_(std::move(prefix)) {}

  // Present and not null.
  bool Has(const char* name) const;
  // A finite number in [lo, hi].
  std::optional<double> Number(const char* name, double lo, double hi);
  // An integer in [lo, hi] (a number with a fraction is refused; 128.0 is 128).
  std::optional<int64_t> Integer(const char* name, int64_t lo, int64_t hi);
  std::optional<bool> Bool(const char* name);
  std::optional<std::string> String(const char* name);
  // A string, or an array of at most max_items non-empty strings (OpenAI's `stop`).
  std::optional<std::vector<std::string>> StringOrList(const char* name, size_t max_items);
  // The raw value when present (no check), for fields with their own structure.
  const nlohmann::json* Raw(const char* name) const;

  // Records an error about a field (if none was recorded before).
  void Fail(const std::string& field, std::string message);
  const std::optional<ApiError>& error() const { return error_; }
  std::string Param(const std::string& field) const { return prefix_ + field; }

 private:
  void WrongType(const char* name, const char* expected);

  const nlohmann::json& object_;
  std::string prefix_;
  std::optional<ApiError> error_;
};

// Parses a request body that must be a JSON object. nlohmann refuses invalid UTF-8 inside strings,
// so everything below sees valid UTF-8.
std::optional<ApiError> ParseJsonObject(const std::string& body, nlohmann::json* out);

}  // namespace medassist::server
