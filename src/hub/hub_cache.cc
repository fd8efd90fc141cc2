#include "hub/hub_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/file.h"

namespace medassist::hub {
namespace {

namespace fs = std::filesystem;

std::string ErrnoText() { return std::strerror(errno); }

}  // namespace

RepoCache::RepoCache(std::string cache_root, const RepoRef& repo)
    : root_(std::move(cache_root)),
      folder_(CacheFolderName(repo)),
      repo_dir_(root_ + "/" + folder_) {}

std::string RepoCache::BlobPath(const std::string& etag) const {
  return repo_dir_ + "/blobs/" + etag;
}
std::string RepoCache::IncompletePath(const std::string& etag) const {
  return BlobPath(etag) + ".incomplete";
}
std::string RepoCache::LockPath(const std::string& etag) const {
  return root_ + "/.locks/" + folder_ + "/" + etag + ".lock";
}
std::string RepoCache::SnapshotDir(const std::string& commit) const {
  return repo_dir_ + "/snapshots/" + commit;
}
std::string RepoCache::SnapshotFile(const std::string& commit, const std::string& path) const {
  return SnapshotDir(commit) + "/" + path;
}
std::string RepoCache::RefPath(const std::string& revision) const {
  return repo_dir_ + "/refs/" + revision;
}

bool RepoCache::HasBlob(const std::string& etag) const {
  std::error_code ec;
  return fs::is_regular_file(BlobPath(etag), ec);
}

Result<std::string> RepoCache::ResolveRevision(const std::string& revision) const {
  std::error_code ec;
  const std::string ref = RefPath(revision);
  if (fs::is_regular_file(ref, ec)) {
    ASSIGN_OR_RETURN(std::string commit, ReadFile(ref, 4096));
    while (!commit.empty() && (commit.back() == '\n' || commit.back() == ' ')) commit.pop_back();
    if (commit.empty() || commit.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return DataLoss(ref + ": expected a commit hash");
    }
    return commit;
  }
  if (fs::is_directory(SnapshotDir(revision), ec)) return revision;
  return NotFound("revision '" + revision + "' is not in the cache at " + repo_dir_);
}

Status MakeParentDirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) return IoError("cannot create the folder of " + path + ": " + ec.message());
  return Status::Ok();
}

Status RepoCache::WriteRef(const std::string& revision, const std::string& commit) const {
  const std::string ref = RefPath(revision);
  RETURN_IF_ERROR(MakeParentDirs(ref));
  const std::string tmp = ref + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << commit;  // no newline, as huggingface_hub writes it
    if (!out.flush()) return IoError("cannot write " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, ref, ec);
  if (ec) return IoError("cannot rename " + tmp + " to " + ref + ": " + ec.message());
  return Status::Ok();
}

Status RepoCache::LinkSnapshotFile(const std::string& commit, const std::string& path,
                                   const std::string& etag) const {
  const fs::path link = SnapshotFile(commit, path);
  RETURN_IF_ERROR(MakeParentDirs(link.string()));
  // Relative, so the cache can be moved as a whole (huggingface_hub _create_symlink).
  const fs::path target = fs::path(BlobPath(etag)).lexically_relative(link.parent_path());
  std::error_code ec;
  fs::remove(link, ec);
  fs::create_symlink(target, link, ec);
  if (ec)
    return IoError("cannot link " + link.string() + " -> " + target.string() + ": " + ec.message());
  return Status::Ok();
}

Status RepoCache::FinishBlob(const std::string& etag) const {
  if (::rename(IncompletePath(etag).c_str(), BlobPath(etag).c_str()) != 0) {
    return IoError("cannot rename " + IncompletePath(etag) + ": " + ErrnoText());
  }
  return Status::Ok();
}

Result<FileLock> FileLock::Acquire(const std::string& path) {
  RETURN_IF_ERROR(MakeParentDirs(path));
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot open lock file " + path + ": " + ErrnoText());
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    std::string why = ErrnoText();
    ::close(fd);
    return IoError("cannot lock " + path + ": " + why);
  }
  return FileLock(fd);
}

FileLock::FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace medassist::hub
