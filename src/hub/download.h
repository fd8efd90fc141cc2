// One file from the Hub into the cache, as huggingface_hub's hf_hub_download does it
// (file_download.py get_hf_file_metadata, http_get, _download_to_tmp_and_move):
//
// 1. HEAD {endpoint}/{repo}/resolve/{revision}/{path} without following redirects (relative ones
//    are followed by hand: a renamed repo) and with Accept-Encoding: identity. The answer names the
//    commit (X-Repo-Commit), the blob (X-Linked-Etag for LFS files = their sha256, else ETag = the
//    git blob sha1), the size (X-Linked-Size, else Content-Length) and, for LFS files, a 302
//    Location on a CDN host.
// 2. GET that location into blobs/<etag>.incomplete, resuming with "Range: bytes=N-" from what an
//    earlier, interrupted attempt left; a 200 instead of 206 means the server ignored the range
//    and the file starts over. The token is not sent when the location is on another host.
// 3. Check the size, and the sha256 of LFS files; rename to blobs/<etag> (atomic) and link
//    snapshots/<commit>/<path> to it. A wrong file is deleted, never renamed.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "core/status.h"
#include "hub/hub_cache.h"
#include "hub/hub_config.h"
#include "hub/progress.h"
#include "hub/repo_id.h"

namespace medassist::hub {

struct FileMetadata {
  std::string commit;    // X-Repo-Commit
  std::string etag;      // the blob's name in the cache
  std::string location;  // where the bytes are fetched from
  int64_t size = -1;     // -1: the server did not say
  bool lfs = false;      // X-Linked-Etag was sent: etag is the sha256 of the bytes
};

struct DownloadOptions {
  // Attempts at one file when the connection breaks or stalls; each resumes where the last
  // stopped (huggingface_hub http_get retries 5 times).
  int max_attempts = 5;
  const std::atomic<bool>* cancel = nullptr;
};

// Step 1. NotFound / InvalidArgument / IoError with a message a user can act on.
Result<FileMetadata> GetFileMetadata(const HubConfig& config, const RepoRef& repo,
                                     const std::string& revision, const std::string& path);

// Steps 2 and 3 for a blob whose metadata is known; nothing is fetched when the blob is cached.
// `name` is shown in progress and errors.
Status FetchBlob(const HubConfig& config, const RepoCache& cache, const FileMetadata& meta,
                 const std::string& name, const DownloadOptions& options, Progress& progress);

// The whole of hf_hub_download: returns the path of snapshots/<commit>/<path>. With
// config.offline, answers from the cache only. A revision that is not a commit hash also gets
// refs/<revision>.
Result<std::string> DownloadFile(const HubConfig& config, const RepoRef& repo,
                                 const std::string& revision, const std::string& path,
                                 const DownloadOptions& options, Progress& progress);

// 40 lower-case hex digits (a git commit hash).
bool IsCommitHash(const std::string& s);

}  // namespace medassist::hub
