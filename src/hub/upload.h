// Uploading a folder as one commit, as huggingface_hub's upload_folder / create_commit
// (hf_api.py create_repo, _commit_api.py, lfs.py):
//
// 1. POST {endpoint}/api/repos/create {"name", "organization", "type", "private"}; 409 = exists.
// 2. POST {endpoint}/api/{type}s/{repo}/preupload/{revision} {"files": [{"path", "sample" (base64
//    of the first 512 bytes), "size"}]} -> {"files": [{"path", "uploadMode": "lfs"|"regular",
//    "shouldIgnore"}]}, 256 files per request.
// 3. LFS files through the git-lfs batch API (https://github.com/git-lfs/git-lfs/blob/main/docs/
//    api/batch.md): POST {endpoint}[/datasets]/{repo}.git/info/lfs/objects/batch with
//    Accept / Content-Type application/vnd.git-lfs+json, {"operation": "upload", "transfers":
//    ["basic"], "objects": [{"oid": sha256, "size"}], "hash_algo": "sha256"}; an object without
//    "actions" is already stored; otherwise PUT the file to actions.upload.href with its headers
//    (streamed from disk), then POST {"oid", "size"} to actions.verify.href when given.
// 4. POST {endpoint}/api/{type}s/{repo}/commit/{revision}, Content-Type application/x-ndjson:
//    {"key": "header", "value": {"summary", "description"}}, then per file {"key": "file",
//    "value": {"content" (base64), "path", "encoding": "base64"}} or {"key": "lfsFile", "value":
//    {"path", "algo": "sha256", "oid", "size"}} -> {"commitOid", "commitUrl"}.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "hub/hub_config.h"
#include "hub/repo_id.h"

namespace medassist::hub {

struct PushOptions {
  std::string folder = {};    // uploaded recursively; .git/ and .cache/huggingface/ left out
  bool private_repo = false;  // only used when the repo is created
  std::string message = {};   // commit summary; "" -> "Upload folder using medassist"
  bool show_progress = true;
};

struct PushResult {
  std::string commit;  // the new commit's hash
  std::string commit_url;
  int n_files = 0;              // in the commit
  int n_lfs_uploaded = 0;       // LFS objects whose bytes were sent
  int n_lfs_already_there = 0;  // LFS objects the server had (no bytes sent)
};

// Pushes options.folder to repo at repo.revision (a branch). Needs config.token.
Result<PushResult> PushFolder(const HubConfig& config, const RepoRef& repo,
                              const PushOptions& options);

}  // namespace medassist::hub
