#include "hub/snapshot.h"

#include <fnmatch.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "hub/hub_cache.h"
#include "model/model_path.h"

namespace medassist::hub {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxListingBytes = size_t{64} << 20;

Result<RepoListing> ParseListing(const std::string& body, const std::string& url) {
  auto bad = [&](const std::string& why) {
    return DataLoss("file listing from " + net::RedactUrl(url) + ": " + why);
  };
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return bad("not a JSON object");
  RepoListing listing;
  auto sha = j.find("sha");
  if (sha == j.end() || !sha->is_string() || !IsCommitHash(sha->get<std::string>())) {
    return bad("no commit hash in \"sha\"");
  }
  listing.commit = sha->get<std::string>();
  auto siblings = j.find("siblings");
  if (siblings == j.end() || !siblings->is_array()) return bad("no \"siblings\" list");
  for (const nlohmann::json& s : *siblings) {
    auto name = s.is_object() ? s.find("rfilename") : s.end();
    if (!s.is_object() || name == s.end() || !name->is_string()) {
      return bad("a sibling without \"rfilename\"");
    }
    std::string path = name->get<std::string>();
    if (!IsSafeRepoPath(path)) return bad("unsafe file path '" + path + "'");
    listing.files.push_back(std::move(path));
  }
  return listing;
}

Result<std::string> CachedSnapshot(const HubConfig& config, const RepoRef& repo,
                                   const std::string& revision) {
  RepoCache cache(config.cache_root, repo);
  ASSIGN_OR_RETURN(std::string commit, cache.ResolveRevision(revision));
  std::string dir = cache.SnapshotDir(commit);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return NotFound(dir + " is missing");
  return dir;
}

}  // namespace

Result<RepoListing> ListRepoFiles(const HubConfig& config, const RepoRef& repo,
                                  const std::string& revision) {
  const std::string url = RevisionInfoUrl(config.endpoint, repo, revision);
  net::HttpRequest req{.method = "GET", .url = url};
  req.headers = HubHeaders(config, url);
  std::string body;
  bool too_big = false;
  net::HttpResult r = net::SendHttp(req, {.on_body = [&](std::string_view chunk) {
                                      body.append(chunk);
                                      too_big = body.size() > kMaxListingBytes;
                                      return !too_big;
                                    }});
  const std::string what = "file list of " + repo.id() + "@" + revision;
  if (too_big) return ResourceExhausted(what + ": the answer is over 64 MiB");
  if (!r.ok()) return NetworkError(what, r, url);
  if (r.response.status != 200) {
    return HubHttpError(what, r.response, url, !config.token.empty());
  }
  return ParseListing(body, url);
}

std::vector<std::string> SplitPatterns(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view p = text.substr(0, comma);
    while (!p.empty() && p.front() == ' ') p.remove_prefix(1);
    while (!p.empty() && p.back() == ' ') p.remove_suffix(1);
    if (!p.empty()) out.emplace_back(p);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

bool MatchesAny(const std::string& path, const std::vector<std::string>& patterns) {
  if (patterns.empty()) return true;
  for (std::string p : patterns) {
    if (p.ends_with('/')) p += '*';
    if (::fnmatch(p.c_str(), path.c_str(), 0) == 0) return true;
  }
  return false;
}

Result<std::string> DownloadSnapshot(const HubConfig& config, const RepoRef& repo,
                                     const SnapshotOptions& options) {
  if (config.cache_root.empty()) {
    return InvalidArgument("no Hugging Face cache folder: set HF_HUB_CACHE or HF_HOME");
  }
  const std::string& revision = repo.revision;
  if (config.offline) {
    Result<std::string> cached = CachedSnapshot(config, repo, revision);
    if (cached.ok()) return cached;
    return NotFound("HF_HUB_OFFLINE is set and " + repo.id() + "@" + revision + " (" +
                    std::string(RepoTypeName(repo.type)) + ") is not in the cache at " +
                    config.cache_root + "; unset HF_HUB_OFFLINE to download it");
  }
  Result<RepoListing> listing = ListRepoFiles(config, repo, revision);
  if (!listing.ok()) {
    Result<std::string> cached = CachedSnapshot(config, repo, revision);
    if (listing.status().code() == StatusCode::kIoError && cached.ok()) {
      spdlog::warn("{}; using the cached snapshot {}", listing.status().message(), *cached);
      return cached;
    }
    return listing.status();
  }
  RepoCache cache(config.cache_root, repo);
  Progress progress(options.show_progress);
  int n_files = 0;
  for (const std::string& path : listing->files) {
    if (!MatchesAny(path, options.include)) continue;
    ++n_files;
    // At the listed commit, so that every file comes from the same one even if the branch moves.
    RETURN_IF_ERROR(
        DownloadFile(config, repo, listing->commit, path, options.download, progress).status());
  }
  if (n_files == 0 && !options.include.empty()) {
    return NotFound("no file of " + repo.id() + "@" + revision + " matches --include");
  }
  // The folder exists even when the listing is empty, as huggingface_hub makes it.
  std::error_code ec;
  fs::create_directories(cache.SnapshotDir(listing->commit), ec);
  if (revision != listing->commit) RETURN_IF_ERROR(cache.WriteRef(revision, listing->commit));
  return cache.SnapshotDir(listing->commit);
}

Result<std::string> EnsureSnapshot(const std::string& spec, const HubConfig& config,
                                   std::string_view include) {
  Result<std::string> local = model::ResolveModelPath(spec, config.cache_root);
  if (local.ok() || local.status().code() != StatusCode::kNotFound) return local;
  Result<RepoRef> repo = ParseRepoRef(spec);
  if (!repo.ok() || config.offline || config.cache_root.empty()) return local;
  spdlog::info("{} is not in the Hugging Face cache; downloading it from {}", spec,
               config.endpoint);
  SnapshotOptions options;
  options.include = SplitPatterns(include);
  Result<std::string> got = DownloadSnapshot(config, *repo, options);
  if (got.ok()) return got;
  return Status(got.status().code(), local.status().message() + "; downloading it from " +
                                         config.endpoint + " failed: " + got.status().message());
}

}  // namespace medassist::hub
