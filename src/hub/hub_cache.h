// The Hugging Face hub cache layout, exactly as huggingface_hub writes it (file_download.py
// hf_hub_download, _create_symlink), so a cache is shared both ways with Python tools:
//
//   <root>/models--ORG--NAME/blobs/<etag>                 the bytes (etag: sha256 for LFS files,
//                                                         git blob sha1 for regular ones)
//   <root>/models--ORG--NAME/blobs/<etag>.incomplete      a download under way (resumable)
//   <root>/models--ORG--NAME/snapshots/<commit>/<path>    relative symlink ../../blobs/<etag>
//                                                         (one more ../ per folder in <path>)
//   <root>/models--ORG--NAME/refs/<revision>              the commit hash, no newline
//   <root>/.locks/models--ORG--NAME/<etag>.lock           flock'd while a blob is written (the
//                                                         lock huggingface_hub's filelock uses)
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "hub/repo_id.h"

namespace medassist::hub {

class RepoCache {
 public:
  RepoCache(std::string cache_root, const RepoRef& repo);

  const std::string& repo_dir() const { return repo_dir_; }
  std::string BlobPath(const std::string& etag) const;
  std::string IncompletePath(const std::string& etag) const;
  std::string LockPath(const std::string& etag) const;
  std::string SnapshotDir(const std::string& commit) const;
  // path must be IsSafeRepoPath.
  std::string SnapshotFile(const std::string& commit, const std::string& path) const;
  std::string RefPath(const std::string& revision) const;

  bool HasBlob(const std::string& etag) const;
  // The commit of refs/<revision>, or the revision itself when it names a snapshot folder;
  // NotFound when the cache knows neither.
  Result<std::string> ResolveRevision(const std::string& revision) const;
  // Writes refs/<revision> = commit (atomically: a temporary file renamed over it).
  Status WriteRef(const std::string& revision, const std::string& commit) const;
  // snapshots/<commit>/<path> -> the blob, as a relative symlink; replaces what was there.
  Status LinkSnapshotFile(const std::string& commit, const std::string& path,
                          const std::string& etag) const;
  // Renames blobs/<etag>.incomplete over blobs/<etag> (atomic on one file system), so a blob
  // that exists is always complete.
  Status FinishBlob(const std::string& etag) const;

 private:
  std::string root_;
  std::string folder_;
  std::string repo_dir_;
};

// Holds an exclusive flock on a file (created if missing) until destroyed.
class FileLock {
 public:
  static Result<FileLock> Acquire(const std::string& path);
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Creates the folders of a path (its parents) ; IoError naming it when that fails.
Status MakeParentDirs(const std::string& path);

}  // namespace medassist::hub
