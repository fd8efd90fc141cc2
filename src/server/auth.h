// API keys: `Authorization: Bearer KEY` or `X-API-Key: KEY`, compared in constant time (the time
// taken does not depend on how much of a wrong key matches).
#pragma once

#include <string>
#include <string_view>

namespace medassist::server {

bool ConstantTimeEquals(std::string_view a, std::string_view b);

// The key a request presents ("" when none): the Bearer token, else X-API-Key.
std::string PresentedKey(std::string_view authorization, std::string_view x_api_key);

// Paths that need the key when one is configured: everything but the home page, /health and the
// API documentation.
bool NeedsKey(std::string_view path);

}  // namespace medassist::server
