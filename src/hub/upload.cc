#include "hub/upload.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/file.h"
#include "hub/digest.h"
#include "hub/progress.h"

namespace medassist::hub {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kPreuploadBatch = 256;  // files per preupload request (huggingface_hub)
constexpr size_t kSampleBytes = 512;     // the preupload "sample" (huggingface_hub UploadInfo)
constexpr int64_t kMaxInlineBytes = int64_t{64} << 20;  // a "regular" file goes inline in JSON
constexpr const char* kLfsMediaType = "application/vnd.git-lfs+json";

struct LocalFile {
  std::string path = {};      // in the repo, '/'-separated
  std::string abs_path = {};  // on disk
  int64_t size = 0;
  std::string sha256 = {};
  std::string sample = {};
  bool lfs = false;
  bool ignored = false;
};

// huggingface_hub DEFAULT_IGNORE_PATTERNS: git's own folder and the local-dir metadata.
bool Ignored(const std::string& rel) {
  if (rel.starts_with(".cache/huggingface/")) return true;
  for (const auto& part : fs::path(rel)) {
    if (part == ".git") return true;
  }
  return false;
}

Result<LocalFile> Describe(const fs::path& abs, const std::string& rel) {
  LocalFile f{.path = rel, .abs_path = abs.string()};
  std::error_code ec;
  f.size = static_cast<int64_t>(fs::file_size(abs, ec));
  if (ec) return IoError("cannot stat " + f.abs_path + ": " + ec.message());
  Digest digest = Digest::Sha256();
  RETURN_IF_ERROR(HashFilePrefix(f.abs_path, f.size, digest));
  f.sha256 = digest.FinishHex();
  std::ifstream in(f.abs_path, std::ios::binary);
  f.sample.resize(kSampleBytes);
  in.read(f.sample.data(), static_cast<std::streamsize>(kSampleBytes));
  f.sample.resize(static_cast<size_t>(in.gcount()));
  return f;
}

// Regular files below folder (symlinks followed, so a cache snapshot can be pushed), by path.
Result<std::vector<LocalFile>> ScanFolder(const std::string& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return NotFound("push: '" + folder + "' is not a folder");
  std::vector<LocalFile> files;
  for (fs::recursive_directory_iterator it(folder, ec), end; it != end; it.increment(ec)) {
    if (ec) return IoError("cannot list " + folder + ": " + ec.message());
    if (!it->is_regular_file(ec)) continue;
    const std::string rel = fs::relative(it->path(), folder, ec).generic_string();
    if (Ignored(rel)) continue;
    if (!IsSafeRepoPath(rel)) return InvalidArgument("push: cannot upload '" + rel + "'");
    ASSIGN_OR_RETURN(LocalFile f, Describe(it->path(), rel));
    files.push_back(std::move(f));
  }
  if (ec) return IoError("cannot list " + folder + ": " + ec.message());
  std::sort(files.begin(), files.end(),
            [](const LocalFile& a, const LocalFile& b) { return a.path < b.path; });
  if (files.empty()) return InvalidArgument("push: '" + folder + "' holds no file to upload");
  return files;
}

class Pusher {
 public:
  Pusher(const HubConfig& config, const RepoRef& repo, const PushOptions& options)
      : config_(config), repo_(repo), options_(options), progress_(options.show_progress) {}

  Result<PushResult> Run() {
    if (config_.offline) return InvalidArgument("push: HF_HUB_OFFLINE is set");
    if (config_.token.empty()) {
      return InvalidArgument("push needs a Hugging Face token with write access: set HF_TOKEN");
    }
    ASSIGN_OR_RETURN(files_, ScanFolder(options_.folder));
    RETURN_IF_ERROR(CreateRepo());
    for (size_t i = 0; i < files_.size(); i += kPreuploadBatch) {
      RETURN_IF_ERROR(Preupload(i, std::min(files_.size(), i + kPreuploadBatch)));
    }
    RETURN_IF_ERROR(UploadLfs());
    return Commit();
  }

 private:
  // POST of a JSON body; the whole answer is returned (they are small).
  Result<net::HttpResponse> PostJson(const std::string& what, const std::string& url,
                                     const std::string& body, const char* content_type,
                                     net::Headers extra = {}) {
    net::HttpRequest req{.method = "POST", .url = url, .body = body};
    req.headers = HubHeaders(config_, url);
    req.headers.emplace_back("Content-Type", content_type);
    for (auto& h : extra) req.headers.push_back(std::move(h));
    net::HttpResult r = net::SendHttp(req);
    if (!r.ok()) return NetworkError(what, r, url);
    return std::move(r.response);
  }

  Status Failed(const std::string& what, const net::HttpResponse& r, const std::string& url) {
    return HubHttpError(what, r, url, true);
  }

  std::string TypedApi() const { return ApiRepoUrl(config_.endpoint, repo_); }

  Status CreateRepo() {
    json body = {{"name", repo_.name},
                 {"organization", repo_.org},
                 {"type", RepoTypeName(repo_.type)},
                 {"private", options_.private_repo}};
    const std::string url = config_.endpoint + "/api/repos/create";
    ASSIGN_OR_RETURN(net::HttpResponse r,
                     PostJson("create repo " + repo_.id(), url, body.dump(), "application/json"));
    if (r.status == 200 || r.status == 201 || r.status == 409) return Status::Ok();  // 409: exists
    return Failed("create repo " + repo_.id(), r, url);
  }

  Status Preupload(size_t begin, size_t end) {
    json list = json::array();
    for (size_t i = begin; i < end; ++i) {
      list.push_back({{"path", files_[i].path},
                      {"sample", Base64Encode(files_[i].sample)},
                      {"size", files_[i].size}});
    }
    const std::string url =
        TypedApi() + "/preupload/" + UrlEncode(repo_.revision, /*keep_slash=*/false);
    const std::string what = "preupload of " + repo_.id();
    ASSIGN_OR_RETURN(net::HttpResponse r,
                     PostJson(what, url, json{{"files", list}}.dump(), "application/json"));
    if (r.status != 200) return Failed(what, r, url);
    json j = json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("files") || !j["files"].is_array()) {
      return DataLoss(what + ": malformed answer");
    }
    std::map<std::string, LocalFile*> by_path;
    for (size_t i = begin; i < end; ++i) by_path[files_[i].path] = &files_[i];
    for (const json& f : j["files"]) {
      if (!f.is_object() || !f.contains("path") || !f["path"].is_string()) continue;
      auto it = by_path.find(f["path"].get<std::string>());
      if (it == by_path.end()) continue;
      it->second->lfs = f.value("uploadMode", "") == "lfs";
      it->second->ignored = f.value("shouldIgnore", false);
    }
    return Status::Ok();
  }

  Status UploadLfs() {
    json objects = json::array();
    std::map<std::string, const LocalFile*> by_oid;
    for (const LocalFile& f : files_) {
      if (!f.lfs || f.ignored || by_oid.count(f.sha256) != 0) continue;
      by_oid[f.sha256] = &f;
      objects.push_back({{"oid", f.sha256}, {"size", f.size}});
    }
    if (objects.empty()) return Status::Ok();
    json body = {{"operation", "upload"},
                 {"transfers", {"basic"}},
                 {"objects", objects},
                 {"hash_algo", "sha256"},
                 {"ref", {{"name", repo_.revision}}}};
    const std::string url = RepoWebUrl(config_.endpoint, repo_) + ".git/info/lfs/objects/batch";
    const std::string what = "LFS batch for " + repo_.id();
    ASSIGN_OR_RETURN(net::HttpResponse r,
                     PostJson(what, url, body.dump(), kLfsMediaType, {{"Accept", kLfsMediaType}}));
    if (r.status != 200) return Failed(what, r, url);
    json j = json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("objects") || !j["objects"].is_array()) {
      return DataLoss(what + ": malformed answer");
    }
    for (const json& o : j["objects"]) {
      const std::string oid = o.is_object() ? o.value("oid", "") : "";
      auto it = by_oid.find(oid);
      if (it == by_oid.end()) return DataLoss(what + ": answer names an unknown object");
      RETURN_IF_ERROR(UploadObject(*it->second, o));
    }
    return Status::Ok();
  }

  static net::Headers ActionHeaders(const json& action) {
    net::Headers h;
    if (action.contains("header") && action["header"].is_object()) {
      for (const auto& [k, v] : action["header"].items()) {
        if (v.is_string()) h.emplace_back(k, v.get<std::string>());
      }
    }
    return h;
  }

  Status UploadObject(const LocalFile& f, const json& o) {
    const std::string what = "LFS upload of " + f.path;
    if (o.contains("error")) {
      return InvalidArgument(what + " refused by the server: " + o["error"].dump());
    }
    if (!o.contains("actions") || !o["actions"].is_object() || !o["actions"].contains("upload")) {
      ++result_.n_lfs_already_there;  // the server has these bytes already
      return Status::Ok();
    }
    const json& upload = o["actions"]["upload"];
    if (!upload.is_object() || !upload.contains("href") || !upload["href"].is_string()) {
      return DataLoss(what + ": no upload href");
    }
    if (upload.contains("header") && upload["header"].contains("chunk_size")) {
      return Unimplemented(what + ": the server asks for a multipart upload");
    }
    const std::string href = upload["href"].get<std::string>();
    net::HttpRequest req{.method = "PUT", .url = href, .upload_file = f.abs_path};
    req.headers = HubHeaders(config_, href);
    for (auto& h : ActionHeaders(upload)) req.headers.push_back(std::move(h));
    progress_.Begin(f.path, f.size, 0);
    int64_t reported = 0;
    net::HttpResult r = net::SendHttp(req, {.on_progress = [&](int64_t done, int64_t) {
                                        progress_.Advance(done - reported);
                                        reported = done;
                                      }});
    if (!r.ok()) return NetworkError(what, r, href);
    if (r.response.status / 100 != 2) return Failed(what, r.response, href);
    progress_.End("uploaded");
    ++result_.n_lfs_uploaded;
    if (o["actions"].contains("verify")) return Verify(f, o["actions"]["verify"]);
    return Status::Ok();
  }

  Status Verify(const LocalFile& f, const json& verify) {
    const std::string what = "LFS verify of " + f.path;
    if (!verify.is_object() || !verify.contains("href") || !verify["href"].is_string()) {
      return DataLoss(what + ": no verify href");
    }
    const std::string href = verify["href"].get<std::string>();
    json body = {{"oid", f.sha256}, {"size", f.size}};
    ASSIGN_OR_RETURN(net::HttpResponse r,
                     PostJson(what, href, body.dump(), "application/json", ActionHeaders(verify)));
    if (r.status / 100 != 2) return Failed(what, r, href);
    return Status::Ok();
  }

  Result<PushResult> Commit() {
    const std::string summary =
        options_.message.empty() ? "Upload folder using medassist" : options_.message;
    std::string ndjson =
        json{{"key", "header"}, {"value", {{"summary", summary}, {"description", ""}}}}.dump() +
        "\n";
    for (const LocalFile& f : files_) {
      if (f.ignored) continue;
      ++result_.n_files;
      if (f.lfs) {
        json v = {{"path", f.path}, {"algo", "sha256"}, {"oid", f.sha256}, {"size", f.size}};
        ndjson += json{{"key", "lfsFile"}, {"value", v}}.dump() + "\n";
        continue;
      }
      if (f.size > kMaxInlineBytes) {
        return InvalidArgument("push: the server wants " + f.path + " (" + std::to_string(f.size) +
                               " bytes) sent inline, not through LFS");
      }
      ASSIGN_OR_RETURN(std::string content, ReadFile(f.abs_path));
      json v = {{"content", Base64Encode(content)}, {"path", f.path}, {"encoding", "base64"}};
      ndjson += json{{"key", "file"}, {"value", v}}.dump() + "\n";
    }
    const std::string url =
        TypedApi() + "/commit/" + UrlEncode(repo_.revision, /*keep_slash=*/false);
    const std::string what = "commit to " + repo_.id();
    ASSIGN_OR_RETURN(net::HttpResponse r, PostJson(what, url, ndjson, "application/x-ndjson"));
    if (r.status != 200 && r.status != 201) return Failed(what, r, url);
    json j = json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("commitOid") || !j["commitOid"].is_string()) {
      return DataLoss(what + ": the answer has no commitOid");
    }
    result_.commit = j["commitOid"].get<std::string>();
    result_.commit_url = j.value("commitUrl", "");
    return result_;
  }

  const HubConfig& config_;
  const RepoRef& repo_;
  const PushOptions& options_;
  Progress progress_;
  std::vector<LocalFile> files_;
  PushResult result_;
};

}  // namespace

Result<PushResult> PushFolder(const HubConfig& config, const RepoRef& repo,
                              const PushOptions& options) {
  return Pusher(config, repo, options).Run();
}

}  // namespace medassist::hub
