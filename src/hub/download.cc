#include "hub/download.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "hub/digest.h"

namespace medassist::hub {
namespace {

namespace fs = std::filesystem;

bool IsHex(const std::string& s, size_t min_len, size_t max_len) {
  if (s.size() < min_len || s.size() > max_len) return false;
  return s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The etag names a file in blobs/: letters, digits, '-' and '_' only (the Hub sends hex), so a
// hostile server cannot make it a path.
bool IsSafeEtag(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '_';
  });
}

// ETag: "abc" or W/"abc" -> abc (huggingface_hub _normalize_etag).
std::string NormalizeEtag(std::string etag) {
  if (etag.starts_with("W/")) etag.erase(0, 2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return etag;
}

int64_t ParseSize(const std::optional<std::string>& v) {
  if (!v || v->empty() || v->find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(*v);
}

// "https://host:1/a/b" + "/c" -> "https://host:1/c" (a relative redirect).
std::string WithPath(const std::string& url, const std::string& path) {
  size_t scheme = url.find("://");
  size_t path_start = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return url.substr(0, path_start) + path;
}

// A 206 answer's "Content-Range: bytes N-M/T" starts at the offset asked for.
bool RangeStartsAt(const net::Headers& headers, int64_t offset) {
  for (const auto& [name, value] : headers) {
    if (name == "content-range") return value.starts_with("bytes " + std::to_string(offset) + "-");
  }
  return false;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// One GET of meta.location appended to the .incomplete file; digest continues over the bytes
// already there. Transport failures come back as IoError after the partial bytes are flushed.
struct Attempt {
  const HubConfig& config;
  const RepoCache& cache;
  const FileMetadata& meta;
  const std::string& name;
  const DownloadOptions& options;
  Progress& progress;

  Status Run(bool* retryable) {
    *retryable = false;
    const std::string path = cache.IncompletePath(meta.etag);
    std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "ab"));
    if (!file) return IoError("cannot write " + path);
    int64_t resume = std::ftell(file.get());
    if (meta.size >= 0 && resume > meta.size) {  // not a prefix of this blob: start over
      if (::ftruncate(::fileno(file.get()), 0) != 0) return IoError("cannot truncate " + path);
      resume = 0;
    }
    Digest digest = Digest::Sha256();
    if (meta.lfs && resume > 0) RETURN_IF_ERROR(HashFilePrefix(path, resume, digest));
    progress.Begin(name, meta.size, resume);
    if (meta.size < 0 || resume < meta.size) {
      RETURN_IF_ERROR(Fetch(file.get(), resume, digest, retryable));
    }
    if (std::fflush(file.get()) != 0) return IoError("cannot write " + path + " (disk full?)");
    file.reset();
    return Verify(path, digest);
  }

  Status Fetch(std::FILE* file, int64_t& resume, Digest& digest, bool* retryable) {
    net::HttpRequest req{.method = "GET", .url = meta.location};
    req.headers = HubHeaders(config, meta.location);
    if (resume > 0) req.range_start = resume;
    int status = 0;
    bool write_failed = false;
    std::string error_body;
    net::HttpCallbacks cb;
    cb.cancel = options.cancel;
    cb.on_headers = [&](int s, const net::Headers& headers) {
      status = s;
      if (s == 206 && !RangeStartsAt(headers, resume)) {
        status = -1;  // bytes of another offset: keep none of them
        return false;
      }
      if (s == 200 && resume > 0) {  // the range was ignored: the body is the whole file
        if (::ftruncate(::fileno(file), 0) != 0) return false;
        std::fseek(file, 0, SEEK_SET);
        digest = Digest::Sha256();
        progress.Begin(name, meta.size, 0);
        resume = 0;
      }
      return true;
    };
    cb.on_body = [&](std::string_view chunk) {
      if (status != 200 && status != 206) {
        if (error_body.size() < 4096) error_body.append(chunk);
        return true;
      }
      if (std::fwrite(chunk.data(), 1, chunk.size(), file) != chunk.size()) {
        write_failed = true;
        return false;
      }
      if (meta.lfs) digest.Update(chunk);
      progress.Advance(static_cast<int64_t>(chunk.size()));
      return true;
    };
    net::HttpResult r = net::SendHttp(req, cb);
    if (write_failed) return IoError("cannot write " + cache.IncompletePath(meta.etag));
    if (status == -1) {
      return DataLoss("download of " + name +
                      ": the server answered the range request with "
                      "other bytes (Content-Range does not start at " +
                      std::to_string(resume) + ")");
    }
    if (!r.ok()) {
      *retryable =
          r.failure == net::HttpFailure::kTransfer || r.failure == net::HttpFailure::kTimeout;
      return NetworkError("download of " + name, r, meta.location);
    }
    if (r.response.status != 200 && r.response.status != 206) {
      return HubHttpError("download of " + name, r.response, meta.location, !config.token.empty());
    }
    return Status::Ok();
  }

  // Size, then (LFS) sha256; a wrong file is removed so that nothing resumes from it.
  Status Verify(const std::string& path, Digest& digest) {
    std::error_code ec;
    const auto size = static_cast<int64_t>(fs::file_size(path, ec));
    if (ec) return IoError("cannot stat " + path);
    if (meta.size >= 0 && size < meta.size) {
      return IoError("download of " + name + " ended early (" + std::to_string(size) + " of " +
                     std::to_string(meta.size) + " bytes); run the command again to resume");
    }
    std::string why;
    if (meta.size >= 0 && size != meta.size) {
      why = std::to_string(size) + " bytes instead of " + std::to_string(meta.size);
    } else if (meta.lfs) {
      if (std::string got = digest.FinishHex(); got != meta.etag) {
        why = "sha256 " + got + " instead of " + meta.etag;
      }
    }
    if (!why.empty()) {
      fs::remove(path, ec);
      return DataLoss("download of " + name + " is corrupt (" + why +
                      "); it was deleted. Run the command again; if this repeats, the server "
                      "or a proxy is altering the file");
    }
    return Status::Ok();
  }
};

}  // namespace

bool IsCommitHash(const std::string& s) { return IsHex(s, 40, 40); }

Result<FileMetadata> GetFileMetadata(const HubConfig& config, const RepoRef& repo,
                                     const std::string& revision, const std::string& path) {
  std::string url = ResolveUrl(config.endpoint, repo, revision, path);
  const std::string what = "metadata of " + repo.id() + "/" + path;
  net::HttpResponse resp;
  for (int hops = 0;; ++hops) {
    net::HttpRequest req{.method = "HEAD", .url = url, .follow_redirects = false};
    req.headers = HubHeaders(config, url);
    req.headers.emplace_back("Accept-Encoding", "identity");  // the real size, not gzip's
    net::HttpResult r = net::SendHttp(req);
    if (!r.ok()) return NetworkError(what, r, url);
    resp = std::move(r.response);
    if (resp.status >= 400) return HubHttpError(what, resp, url, !config.token.empty());
    std::string location = resp.Header("location").value_or("");
    // Only relative redirects are followed: an absolute one is the CDN the bytes come from.
    if (resp.status >= 300 && resp.status < 400 && location.starts_with('/') && hops < 10) {
      url = WithPath(url, location);
      continue;
    }
    break;
  }
  FileMetadata m;
  m.commit = resp.Header("x-repo-commit").value_or("");
  std::optional<std::string> linked = resp.Header("x-linked-etag");
  m.lfs = linked.has_value();
  m.etag = NormalizeEtag(linked.value_or(resp.Header("etag").value_or("")));
  const bool redirect = resp.status >= 300 && resp.status < 400;
  m.location = redirect ? resp.Header("location").value_or(url) : url;
  m.size = ParseSize(resp.Header("x-linked-size"));
  if (m.size < 0 && !redirect) m.size = ParseSize(resp.Header("content-length"));
  // The etag and commit become file names: only safe characters are taken from a server.
  if (!IsCommitHash(m.commit) || !IsSafeEtag(m.etag) || (m.lfs && !IsSha256Hex(m.etag))) {
    return DataLoss(what + ": the server at " + net::RedactUrl(url) +
                    " did not send a commit hash (X-Repo-Commit) and an etag; is HF_ENDPOINT a "
                    "Hugging Face Hub?");
  }
  return m;
}

Status FetchBlob(const HubConfig& config, const RepoCache& cache, const FileMetadata& meta,
                 const std::string& name, const DownloadOptions& options, Progress& progress) {
  if (cache.HasBlob(meta.etag)) return Status::Ok();
  // Another process (ours or huggingface_hub) may be writing the same blob.
  ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(cache.LockPath(meta.etag)));
  if (cache.HasBlob(meta.etag)) return Status::Ok();
  RETURN_IF_ERROR(MakeParentDirs(cache.BlobPath(meta.etag)));
  Attempt attempt{config, cache, meta, name, options, progress};
  for (int i = 1;; ++i) {
    bool retryable = false;
    Status s = attempt.Run(&retryable);
    if (s.ok()) break;
    if (!retryable || i >= options.max_attempts) return s;
    spdlog::warn("{}; resuming (attempt {} of {})", s.message(), i + 1, options.max_attempts);
  }
  progress.End("downloaded");
  return cache.FinishBlob(meta.etag);
}

Result<std::string> DownloadFile(const HubConfig& config, const RepoRef& repo,
                                 const std::string& revision, const std::string& path,
                                 const DownloadOptions& options, Progress& progress) {
  if (!IsSafeRepoPath(path)) return InvalidArgument("unsafe file path in repo: '" + path + "'");
  if (config.cache_root.empty()) {
    return InvalidArgument("no Hugging Face cache folder: set HF_HUB_CACHE or HF_HOME");
  }
  RepoCache cache(config.cache_root, repo);
  // A file of a known commit that is already linked needs no request (hf_hub_download does the
  // same); offline, that is the only way.
  if (Result<std::string> commit = cache.ResolveRevision(revision); commit.ok()) {
    std::string file = cache.SnapshotFile(*commit, path);
    std::error_code ec;
    if ((config.offline || IsCommitHash(revision)) && fs::exists(file, ec)) return file;
  }
  if (config.offline) {
    return NotFound("HF_HUB_OFFLINE is set and " + repo.id() + "@" + revision + "/" + path +
                    " is not in the cache at " + config.cache_root);
  }
  ASSIGN_OR_RETURN(FileMetadata meta, GetFileMetadata(config, repo, revision, path));
  RETURN_IF_ERROR(FetchBlob(config, cache, meta, path, options, progress));
  RETURN_IF_ERROR(cache.LinkSnapshotFile(meta.commit, path, meta.etag));
  if (revision != meta.commit) RETURN_IF_ERROR(cache.WriteRef(revision, meta.commit));
  return cache.SnapshotFile(meta.commit, path);
}

}  // namespace medassist::hub
