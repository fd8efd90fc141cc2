// Where the Hub is and who we are, read once from the environment as huggingface_hub reads it
// (constants.py): HF_ENDPOINT (default https://huggingface.co), HF_TOKEN (else the token file
// `huggingface-cli login` writes: $HF_TOKEN_PATH, else $HF_HOME/token, else
// ~/.cache/huggingface/token), HF_HUB_OFFLINE, and the cache root of model::HfHubCacheRoot().
#pragma once

#include <string>

#include "core/status.h"
#include "net/http_client.h"

namespace medassist::hub {

inline constexpr const char* kDefaultEndpoint = "https://huggingface.co";

struct HubConfig {
  std::string endpoint = kDefaultEndpoint;  // no trailing '/'
  // Sent as "Authorization: Bearer TOKEN" to the endpoint's host only; never logged.
  std::string token;
  std::string cache_root;  // the hub cache (folders models--ORG--NAME, ...)
  // HF_HUB_OFFLINE=1: never touch the network, answer from the cache or fail.
  bool offline = false;
  // A progress bar on stderr when it is a terminal, else one log line per file.
  bool progress = true;
};

// The configuration from the environment. The cache root is "" when nothing names one.
HubConfig HubConfigFromEnv();

// The headers every Hub request carries: a user agent, and the token when there is one and
// `url` is on the endpoint's host (a CDN or upload URL of another host is pre-signed and must
// not see the token, as huggingface_hub drops it for LFS downloads).
net::Headers HubHeaders(const HubConfig& config, const std::string& url);

// A transport failure as a user-facing error: what was asked, the redacted URL, and a hint.
Status NetworkError(const std::string& what, const net::HttpResult& result, const std::string& url);

// A Hub error response (4xx/5xx) as a user-facing error, from its status, X-Error-Code and
// X-Error-Message headers (huggingface_hub utils/_http.py hf_raise_for_status): 401 asks for
// HF_TOKEN, 404 says which of repo / revision / file is missing. `what` names the request.
Status HubHttpError(const std::string& what, const net::HttpResponse& response,
                    const std::string& url, bool have_token);

}  // namespace medassist::hub
