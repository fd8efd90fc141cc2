#include "server/api_docs.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace medassist::server {
namespace {

using nlohmann::json;

json ParseOpenApi() { return json::parse(OpenApiJson()); }

// Every "$ref" in `node` (local "#/..." form only) that does not name a node of `doc`; non-local
// refs count as unresolved too, since the document must stand alone. Adds the number of refs seen.
void CollectUnresolvedRefs(const json& doc, const json& node, std::vector<std::string>& unresolved,
                           int& n_refs) {
  if (node.is_object()) {
    auto it = node.find("$ref");
    if (it != node.end() && it->is_string()) {
      ++n_refs;
      const std::string ref = it->get<std::string>();
      if (ref.rfind("#/", 0) != 0 || !doc.contains(json::json_pointer(ref.substr(1)))) {
        unresolved.push_back(ref);
      }
    }
  }
  if (node.is_structured()) {
    for (const json& child : node) CollectUnresolvedRefs(doc, child, unresolved, n_refs);
  }
}

const json& Resolve(const json& doc, const json& node) {
  if (!node.contains("$ref")) return node;
  return doc.at(json::json_pointer(node.at("$ref").get<std::string>().substr(1)));
}

// "path" with its double quotes, as it stands in an HTML attribute.
std::string Quoted(std::string_view text) {
  std::string quoted;
  quoted += '"';
  quoted += text;
  quoted += '"';
  return quoted;
}

const StaticAsset* FindAsset(std::string_view path) {
  for (const StaticAsset& asset : DocsAssets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

TEST(ApiDocsTest, OpenApiJsonIsTheWholeOpenApi31Document) {
  const std::string_view text = OpenApiJson();
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.front(), '{');
  EXPECT_EQ(text.back(),
            '\n');  // the file's last byte; the NUL after the embedded range is not in it
  const json doc = ParseOpenApi();
  EXPECT_EQ(doc.at("openapi"), "3.1.0");
  EXPECT_EQ(doc.at("info").at("title"), "medassist API");
  EXPECT_TRUE(doc.at("components").at("schemas").is_object());
}

TEST(ApiDocsTest, ListsEveryRoute) {
  const json doc = ParseOpenApi();
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"/", "get"},
      {"/health", "get"},
      {"/docs", "get"},
      {"/openapi.json", "get"},
      {"/v1/generate", "post"},
      {"/v1/chat/completions", "post"},
      {"/v1/completions", "post"},
      {"/v1/models", "get"},
      {"/tokenize", "post"},
      {"/detokenize", "post"},
      {"/metrics", "get"},
  };
  const json& paths = doc.at("paths");
  for (const auto& [path, method] : routes) {
    ASSERT_TRUE(paths.contains(path)) << path;
    EXPECT_TRUE(paths.at(path).contains(method)) << method << " " << path;
  }
  EXPECT_EQ(paths.size(), routes.size()) << "a route was added: list it here";
}

TEST(ApiDocsTest, EitherKeyOnApiRoutesAndNoneOnPublicOnes) {
  const json doc = ParseOpenApi();
  const json& schemes = doc.at("components").at("securitySchemes");
  EXPECT_EQ(schemes.at("bearerAuth").at("type"), "http");
  EXPECT_EQ(schemes.at("bearerAuth").at("scheme"), "bearer");
  EXPECT_EQ(schemes.at("apiKeyHeader").at("type"), "apiKey");
  EXPECT_EQ(schemes.at("apiKeyHeader").at("in"), "header");
  EXPECT_EQ(schemes.at("apiKeyHeader").at("name"), "X-API-Key");
  // Two alternatives (a list of one-scheme requirements), not both at once.
  EXPECT_EQ(doc.at("security"), json::parse(R"([{"bearerAuth": []}, {"apiKeyHeader": []}])"));

  for (const auto& [path, item] : doc.at("paths").items()) {
    const bool is_public =
        path == "/" || path == "/health" || path == "/docs" || path == "/openapi.json";
    for (const auto& [method, op] : item.items()) {
      if (is_public) {
        EXPECT_EQ(op.value("security", json()), json::array()) << method << " " << path;
      } else {
        EXPECT_FALSE(op.contains("security")) << method << " " << path << " overrides the key";
      }
    }
  }
}

TEST(ApiDocsTest, RefCheckFindsABrokenRef) {
  const json doc = json::parse(R"({"a": {"$ref": "#/b/c"}, "b": {"d": 1},
                                   "e": [{"$ref": "#/b/d"}, {"$ref": "other.json#/x"}]})");
  std::vector<std::string> unresolved;
  int n_refs = 0;
  CollectUnresolvedRefs(doc, doc, unresolved, n_refs);
  EXPECT_EQ(n_refs, 3);
  EXPECT_EQ(unresolved, (std::vector<std::string>{"#/b/c", "other.json#/x"}));
}

TEST(ApiDocsTest, EveryRefResolvesInsideTheDocument) {
  const json doc = ParseOpenApi();
  std::vector<std::string> unresolved;
  int n_refs = 0;
  CollectUnresolvedRefs(doc, doc, unresolved, n_refs);
  EXPECT_GT(n_refs, 50);
  EXPECT_TRUE(unresolved.empty()) << "first unresolved: " << unresolved.front();
}

TEST(ApiDocsTest, ApiErrorsAreTheOpenAiEnvelope) {
  const json doc = ParseOpenApi();
  const json& envelope =
      doc.at("components").at("schemas").at("Error").at("properties").at("error");
  EXPECT_EQ(envelope.at("required"), json::parse(R"(["message", "type", "param", "code"])"));

  int n_errors = 0;
  for (const auto& [path, item] : doc.at("paths").items()) {
    if (path.rfind("/v1/", 0) != 0 && path != "/tokenize" && path != "/detokenize") continue;
    for (const auto& [method, op] : item.items()) {
      const json& responses = op.at("responses");
      EXPECT_TRUE(responses.contains("401")) << method << " " << path;
      EXPECT_TRUE(responses.contains("500")) << method << " " << path;
      for (const auto& [status, ref_or_response] : responses.items()) {
        if (status[0] != '4' && status[0] != '5') continue;
        ++n_errors;
        const json& response = Resolve(doc, ref_or_response);
        EXPECT_EQ(response.at("content").at("application/json").at("schema").at("$ref"),
                  "#/components/schemas/Error")
            << status << " " << method << " " << path;
        if (status == "429" || status == "503") {
          EXPECT_TRUE(response.at("headers").contains("Retry-After")) << status << " " << path;
        }
      }
    }
  }
  EXPECT_GT(n_errors, 20);
  const json& unauthorized = doc.at("components").at("responses").at("Unauthorized");
  const json& example = unauthorized.at("content").at("application/json").at("example").at("error");
  EXPECT_EQ(example.at("type"), "authentication_error");
  EXPECT_EQ(example.at("code"), "invalid_api_key");
}

// The route defaults of /v1/generate are part of its contract (docs/configuration.md).
TEST(ApiDocsTest, GenerateDocumentsItsDefaults) {
  const json doc = ParseOpenApi();
  const json& request = doc.at("components").at("schemas").at("GenerateRequest");
  EXPECT_EQ(request.at("required"), json::parse(R"(["prompt"])"));
  const json& fields = request.at("properties");
  EXPECT_EQ(fields.at("max_new_tokens").at("default"), 128);
  EXPECT_DOUBLE_EQ(fields.at("temperature").at("default").get<double>(), 0.7);
  EXPECT_DOUBLE_EQ(fields.at("top_p").at("default").get<double>(), 0.9);
  EXPECT_EQ(fields.at("stream").at("default"), false);
  const json& completions = doc.at("components").at("schemas").at("CompletionRequest");
  EXPECT_EQ(completions.at("properties").at("max_tokens").at("default"), 16);
}

TEST(ApiDocsTest, AssetsHaveBodiesAndContentTypes) {
  const std::vector<std::pair<std::string_view, std::string_view>> expected = {
      {"/docs/swagger-ui.css", "text/css; charset=utf-8"},
      {"/docs/swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
      {"/docs/swagger-initializer.js", "text/javascript; charset=utf-8"},
      {"/docs/favicon-32x32.png", "image/png"},
  };
  ASSERT_EQ(DocsAssets().size(), expected.size());
  for (const auto& [path, content_type] : expected) {
    const StaticAsset* asset = FindAsset(path);
    ASSERT_NE(asset, nullptr) << path;
    EXPECT_EQ(asset->content_type, content_type) << path;
    EXPECT_FALSE(asset->body.empty()) << path;
  }
  // Spot checks that each range holds the right file, whole.
  EXPECT_GT(FindAsset("/docs/swagger-ui-bundle.js")->body.size(), 500'000u);
  EXPECT_NE(FindAsset("/docs/swagger-ui-bundle.js")->body.find("SwaggerUIBundle"),
            std::string_view::npos);
  EXPECT_NE(FindAsset("/docs/swagger-ui.css")->body.find(".swagger-ui"), std::string_view::npos);
  const std::string_view png = FindAsset("/docs/favicon-32x32.png")->body;
  EXPECT_EQ(png.substr(0, 8), std::string_view("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(png.substr(png.size() - 8, 4), "IEND");  // last chunk: "IEND" + its 4-byte CRC
}

TEST(ApiDocsTest, SwaggerPageLoadsEveryAssetAndPointsAtTheDocument) {
  const std::string_view html = SwaggerHtml();
  EXPECT_EQ(html.substr(0, 15), "<!doctype html>");
  for (const StaticAsset& asset : DocsAssets()) {
    EXPECT_NE(html.find(Quoted(asset.path)), std::string_view::npos) << asset.path;
  }
  // The page holds no inline script; the initializer it loads names the document.
  EXPECT_EQ(html.find("<script>"), std::string_view::npos);
  EXPECT_NE(FindAsset("/docs/swagger-initializer.js")->body.find("url: \"/openapi.json\""),
            std::string_view::npos);
}

}  // namespace
}  // namespace medassist::server
