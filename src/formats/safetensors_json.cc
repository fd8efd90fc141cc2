#include "formats/safetensors_json.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "formats/gguf_util.h"

namespace medassist::formats {
namespace {

// A SAX handler that keeps the keys seen in each open object and stops at the first repeat.
class UniqueKeyHandler final : public nlohmann::json_sax<nlohmann::json> {
 public:
  bool null() override { return true; }
  bool boolean(bool /*val*/) override { return true; }
  bool number_integer(number_integer_t /*val*/) override { return true; }
  bool number_unsigned(number_unsigned_t /*val*/) override { return true; }
  bool number_float(number_float_t /*val*/, const string_t& /*s*/) override { return true; }
  bool string(string_t& /*val*/) override { return true; }
  bool binary(binary_t& /*val*/) override { return true; }
  bool start_object(std::size_t /*elements*/) override {
    keys_.emplace_back();
    return true;
  }
  bool key(string_t& val) override {
    if (keys_.back().insert(val).second) return true;
    duplicate_ = val;
    return false;
  }
  bool end_object() override {
    keys_.pop_back();
    return true;
  }
  bool start_array(std::size_t /*elements*/) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& /*ex*/) override {
    syntax_error_ = true;
    return false;
  }

  const std::optional<std::string>& duplicate() const { return duplicate_; }
  bool syntax_error() const { return syntax_error_; }

 private:
  std::vector<std::set<std::string>> keys_;
  std::optional<std::string> duplicate_;
  bool syntax_error_ = false;
};

}  // namespace

Status CheckJsonUniqueKeys(std::string_view text, std::string_view source) {
  UniqueKeyHandler handler;
  try {
    nlohmann::json::sax_parse(text.begin(), text.end(), &handler);
  } catch (const std::exception& e) {
    return DataLoss(std::string(source) + ": invalid JSON: " + e.what());
  }
  if (handler.duplicate()) {
    return DataLoss(std::string(source) + ": duplicate key " +
                    QuotePrintable(*handler.duplicate()) + " in a JSON object");
  }
  if (handler.syntax_error()) return DataLoss(std::string(source) + ": invalid JSON");
  return Status::Ok();
}

}  // namespace medassist::formats
