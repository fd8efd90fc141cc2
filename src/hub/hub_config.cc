#include "hub/hub_config.h"

#include <cctype>
#include <cstdlib>

#include "core/file.h"
#include "hub/repo_id.h"
#include "model/model_path.h"

namespace medassist::hub {
namespace {

std::string Getenv(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

// huggingface_hub constants._is_true: "1", "ON", "YES", "TRUE" in any case.
bool IsTrue(std::string v) {
  for (char& c : v) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// huggingface_hub utils/_auth.py get_token: HF_TOKEN, then the token file.
std::string TokenFromEnv() {
  if (std::string t = Trimmed(Getenv("HF_TOKEN")); !t.empty()) return t;
  std::string path = Getenv("HF_TOKEN_PATH");
  if (path.empty()) {
    if (std::string home = Getenv("HF_HOME"); !home.empty()) {
      path = home + "/token";
    } else if (std::string xdg = Getenv("XDG_CACHE_HOME"); !xdg.empty()) {
      path = xdg + "/huggingface/token";
    } else if (std::string user_home = Getenv("HOME"); !user_home.empty()) {
      path = user_home + "/.cache/huggingface/token";
    }
  }
  if (path.empty() || !FileExists(path)) return "";
  Result<std::string> text = ReadFile(path, 4096);
  return text.ok() ? Trimmed(*text) : "";
}

std::string HeaderOr(const net::HttpResponse& r, const char* name) {
  return r.Header(name).value_or("");
}

}  // namespace

HubConfig HubConfigFromEnv() {
  HubConfig c;
  if (std::string e = Getenv("HF_ENDPOINT"); !e.empty()) c.endpoint = e;
  while (c.endpoint.ends_with('/')) c.endpoint.pop_back();
  c.token = TokenFromEnv();
  c.cache_root = model::HfHubCacheRoot();
  c.offline = IsTrue(Getenv("HF_HUB_OFFLINE")) || IsTrue(Getenv("TRANSFORMERS_OFFLINE"));
  return c;
}

net::Headers HubHeaders(const HubConfig& config, const std::string& url) {
  net::Headers h = {{"User-Agent", "medassist/0.1.0"}};
  if (!config.token.empty() && UrlHost(url) == UrlHost(config.endpoint)) {
    h.emplace_back("Authorization", "Bearer " + config.token);
  }
  return h;
}

Status NetworkError(const std::string& what, const net::HttpResult& result,
                    const std::string& url) {
  std::string hint = result.failure == net::HttpFailure::kConnect
                         ? "; check the network connection and HF_ENDPOINT, or set "
                           "HF_HUB_OFFLINE=1 to use only the local cache"
                         : "; run the command again to resume";
  // result.error names the redacted URL already; say it again only when it is missing.
  std::string detail = result.error.empty() ? net::RedactUrl(url) : result.error;
  return IoError(what + " failed: " + detail + hint);
}

Status HubHttpError(const std::string& what, const net::HttpResponse& response,
                    const std::string& url, bool have_token) {
  const std::string code = HeaderOr(response, "x-error-code");
  const std::string server_msg = HeaderOr(response, "x-error-message");
  std::string msg =
      what + ": HTTP " + std::to_string(response.status) + " from " + net::RedactUrl(url);
  if (!server_msg.empty()) msg += " (" + server_msg + ")";
  const std::string auth_hint =
      have_token ? "; the token in HF_TOKEN has no access to it (a gated repo must be accepted "
                   "on its page first)"
                 : "; if it is private or gated, set HF_TOKEN to a token with access";
  if (code == "RepoNotFound" || response.status == 401) {
    return NotFound(msg +
                    ": repository not found or not accessible; check the id and "
                    "--repo-type" +
                    auth_hint);
  }
  if (code == "RevisionNotFound") {
    return NotFound(msg + ": no such revision (branch, tag or commit); check --revision");
  }
  if (code == "EntryNotFound") return NotFound(msg + ": no such file in the repository");
  if (code == "GatedRepo" || response.status == 403) {
    return InvalidArgument(msg + ": access refused" + auth_hint);
  }
  if (response.status == 404) return NotFound(msg + ": not found");
  return IoError(msg + (response.status >= 500 ? ": server error; try again later" : ""));
}

}  // namespace medassist::hub
