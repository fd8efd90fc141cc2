// A whole repository (or the files matching --include) into the cache, as huggingface_hub's
// snapshot_download: list the files of the revision (GET {endpoint}/api/{models|datasets}/{repo}/
// revision/{revision} -> {"sha": commit, "siblings": [{"rfilename": path}, ...]}), then download
// each at that commit, then write refs/<revision>. The answer is the snapshot folder, which
// model::ResolveModelPath finds afterwards.
#pragma once

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "hub/download.h"
#include "hub/hub_config.h"
#include "hub/repo_id.h"

namespace medassist::hub {

struct RepoListing {
  std::string commit;
  std::vector<std::string> files;  // every path checked by IsSafeRepoPath
};

// The file listing of a revision.
Result<RepoListing> ListRepoFiles(const HubConfig& config, const RepoRef& repo,
                                  const std::string& revision);

// "*.safetensors,*.json" -> {"*.safetensors", "*.json"} (spaces around commas dropped).
std::vector<std::string> SplitPatterns(std::string_view text);
// fnmatch without FNM_PATHNAME, so '*' also matches '/', as Python's fnmatch in huggingface_hub
// filter_repo_objects; a pattern ending in '/' matches everything below that folder. An empty
// pattern list matches every path.
bool MatchesAny(const std::string& path, const std::vector<std::string>& patterns);

struct SnapshotOptions {
  std::vector<std::string> include;  // empty: every file
  DownloadOptions download;
  bool show_progress = true;  // Progress on stderr
};

// Downloads repo.revision into config.cache_root and returns snapshots/<commit>. Offline
// (config.offline), returns the cached snapshot of that revision or NotFound, without any
// network access. When the Hub cannot be reached at all and the revision is cached, the cached
// snapshot is returned with a warning (huggingface_hub does the same).
Result<std::string> DownloadSnapshot(const HubConfig& config, const RepoRef& repo,
                                     const SnapshotOptions& options);

// Files a model needs to load: configs, safetensors weights, tokenizer files, chat templates.
inline constexpr const char* kModelFilePatterns =
    "*.json,*.safetensors,*.txt,*.model,*.jinja,*.tiktoken";

// For loading a model named on the command line: a folder, a .gguf file or a repo id already in
// the cache resolves as model::ResolveModelPath does; a repo id that is not cached is downloaded
// (only the files matching `include`, see kModelFilePatterns) unless config.offline. Returns the
// path to load.
Result<std::string> EnsureSnapshot(const std::string& spec, const HubConfig& config,
                                   std::string_view include = kModelFilePatterns);

}  // namespace medassist::hub
