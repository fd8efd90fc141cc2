// The API's own documentation, served by the HTTP server: GET /openapi.json (OpenAPI 3.1, written
// by hand in openapi.json beside this file) and GET /docs (Swagger UI). Everything is embedded in
// the binary at build time (cmake/server_docs.cmake), so the server needs no files at run time.
// Plain data: the routes that serve it are registered by the server.
#pragma once

#include <span>
#include <string_view>

namespace medassist::server {

// One file served as is under /docs/ (Swagger UI's script, style sheet, icon).
struct StaticAsset {
  std::string_view path;          // URL path, "/docs/swagger-ui.css"
  std::string_view content_type;  // Content-Type header value, "text/css; charset=utf-8"
  std::string_view body;
};

// src/server/openapi.json, byte for byte (serve as "application/json").
std::string_view OpenApiJson();

// The /docs page (serve as "text/html; charset=utf-8"): loads the DocsAssets() and points Swagger
// UI at /openapi.json. It holds no inline script, so a Content-Security-Policy of script-src 'self'
// works.
std::string_view SwaggerHtml();

// Every file the /docs page loads, each with its path and content type. Static storage; never
// empty.
std::span<const StaticAsset> DocsAssets();

}  // namespace medassist::server
