#include "server/api_docs.h"

#include <array>
#include <cstddef>

// Build-time embedding with the assembler's .incbin: each file becomes a read-only byte range
// between two global labels, <name>_begin and <name>_end, followed by a NUL byte that is not part
// of the range. The folders come from cmake/server_docs.cmake, which also makes this object file
// depend on the embedded files (the compiler's dependency scan cannot see .incbin). ELF targets
// only.
#if !defined(MEDASSIST_SERVER_SOURCE_DIR) || !defined(MEDASSIST_SWAGGER_UI_DIR)
#error "api_docs.cc is built through medassist_server_docs() in cmake/server_docs.cmake"
#endif

// clang-format off
#define MEDASSIST_EMBED_FILE(name, path)           \
  asm(".pushsection .rodata\n"                     \
      ".balign 16\n"                               \
      ".global " #name "_begin\n"                  \
      ".global " #name "_end\n"                    \
      ".hidden " #name "_begin\n"                  \
      ".hidden " #name "_end\n"                    \
      #name "_begin:\n"                            \
      ".incbin \"" path "\"\n"                     \
      #name "_end:\n"                              \
      ".byte 0\n"                                  \
      ".popsection\n");                            \
  extern "C" const char name##_begin[];            \
  extern "C" const char name##_end[]
// clang-format on

MEDASSIST_EMBED_FILE(medassist_openapi_json, MEDASSIST_SERVER_SOURCE_DIR "/openapi.json");
MEDASSIST_EMBED_FILE(medassist_swagger_ui_css, MEDASSIST_SWAGGER_UI_DIR "/swagger-ui.css");
MEDASSIST_EMBED_FILE(medassist_swagger_ui_bundle_js,
                     MEDASSIST_SWAGGER_UI_DIR "/swagger-ui-bundle.js");
MEDASSIST_EMBED_FILE(medassist_swagger_favicon_png, MEDASSIST_SWAGGER_UI_DIR "/favicon-32x32.png");

namespace medassist::server {
namespace {

std::string_view Embedded(const char* begin, const char* end) {
  return {begin, static_cast<std::size_t>(end - begin)};
}

// The bundle alone carries the API view (SwaggerUIBundle's default preset); the standalone preset
// only adds the top bar with a URL box, which a single-API server does not need.
constexpr std::string_view kSwaggerHtml = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>medassist API</title>
<link rel="icon" type="image/png" sizes="32x32" href="/docs/favicon-32x32.png">
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-initializer.js"></script>
</body>
</html>
)html";

// persistAuthorization keeps the API key across reloads; tryItOutEnabled opens the request editors.
constexpr std::string_view kSwaggerInitializerJs =
    R"js(window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    tryItOutEnabled: true,
    displayRequestDuration: true,
  });
});
)js";

}  // namespace

std::string_view OpenApiJson() {
  return Embedded(medassist_openapi_json_begin, medassist_openapi_json_end);
}

std::string_view SwaggerHtml() { return kSwaggerHtml; }

std::span<const StaticAsset> DocsAssets() {
  static const std::array<StaticAsset, 4> assets = {{
      {"/docs/swagger-ui.css", "text/css; charset=utf-8",
       Embedded(medassist_swagger_ui_css_begin, medassist_swagger_ui_css_end)},
      {"/docs/swagger-ui-bundle.js", "text/javascript; charset=utf-8",
       Embedded(medassist_swagger_ui_bundle_js_begin, medassist_swagger_ui_bundle_js_end)},
      {"/docs/swagger-initializer.js", "text/javascript; charset=utf-8", kSwaggerInitializerJs},
      {"/docs/favicon-32x32.png", "image/png",
       Embedded(medassist_swagger_favicon_png_begin, medassist_swagger_favicon_png_end)},
  }};
  return assets;
}

}  // namespace medassist::server
