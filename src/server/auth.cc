#include "server/auth.h"

#include <cstdint>

namespace medassist::server {

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Walk the longer length so that neither the position of the first difference nor the length
  // of a too-short guess shows in the timing.
  const size_t n = a.size() > b.size() ? a.size() : b.size();
  uint8_t diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    uint8_t x = i < a.size() ? static_cast<uint8_t>(a[i]) : 0;
    uint8_t y = i < b.size() ? static_cast<uint8_t>(b[i]) : 0;
    diff |= static_cast<uint8_t>(x ^ y);
  }
  return diff == 0;
}

std::string PresentedKey(std::string_view authorization, std::string_view x_api_key) {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() > kBearer.size()) {
    bool bearer = true;
    for (size_t i = 0; i < kBearer.size(); ++i) {
      char c = authorization[i];
      char want = kBearer[i];
      if (c != want && !(c >= 'a' && c <= 'z' && c - 'a' + 'A' == want) &&
          !(c >= 'A' && c <= 'Z' && c - 'A' + 'a' == want)) {
        bearer = false;
        break;
      }
    }
    if (bearer) return std::string(authorization.substr(kBearer.size()));
  }
  return std::string(x_api_key);
}

bool NeedsKey(std::string_view path) {
  return !(path == "/" || path == "/health" || path == "/openapi.json" || path == "/docs" ||
           path.rfind("/docs/", 0) == 0);
}

}  // namespace medassist::server
