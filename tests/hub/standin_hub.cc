#include "standin_hub.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.h"
#include "hub/digest.h"

namespace medassist::hub::testing {

using nlohmann::json;

struct StandinHub::Blob {
  std::string content;
  int64_t size = 0;
  std::function<void(int64_t, char*, size_t)> generate;
  std::string sha256;
  std::string sha1;

  void Read(int64_t offset, char* out, size_t n) const {
    if (generate) {
      generate(offset, out, n);
    } else {
      std::copy_n(content.data() + offset, n, out);
    }
  }
};

struct StandinHub::Repo {
  struct Entry {
    std::shared_ptr<Blob> blob;
    bool lfs = false;
  };
  using Files = std::map<std::string, Entry>;
  RepoType type = RepoType::kModel;
  std::string id;
  bool private_repo = false;
  std::string main;
  std::map<std::string, Files> commits;
};

namespace {

constexpr const char* kLfsMediaType = "application/vnd.git-lfs+json";

std::string Key(RepoType type, const std::string& id) {
  return std::string(RepoTypeName(type)) + ":" + id;
}

void Error(httplib::Response& res, int status, const std::string& code, const std::string& msg) {
  res.status = status;
  if (!code.empty()) res.set_header("X-Error-Code", code);
  res.set_header("X-Error-Message", msg);
  res.set_content(json{{"error", msg}}.dump(), "application/json");
}

std::vector<std::string> Split(const std::string& s, char sep, size_t max_parts) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (parts.size() + 1 < max_parts) {
    size_t at = s.find(sep, start);
    if (at == std::string::npos) break;
    parts.push_back(s.substr(start, at - start));
    start = at + 1;
  }
  parts.push_back(s.substr(start));
  return parts;
}

bool LfsByName(const std::string& path) {
  for (const char* ext : {".safetensors", ".bin", ".gguf", ".parquet", ".pt"}) {
    if (path.ends_with(ext)) return true;
  }
  return false;
}

void StartServer(httplib::Server& server, int& port, std::thread& thread) {
  server.new_task_queue = [] { return new httplib::ThreadPool(8); };
  port = server.bind_to_any_port("127.0.0.1");
  CHECK(port > 0) << "stand-in hub: no free port";
  thread = std::thread([&server] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

}  // namespace

StandinHub::StandinHub() {
  Route();
  StartServer(main_, main_port_, main_thread_);
  StartServer(cdn_, cdn_port_, cdn_thread_);
}

StandinHub::~StandinHub() {
  main_.stop();
  cdn_.stop();
  main_thread_.join();
  cdn_thread_.join();
}

std::string StandinHub::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(main_port_);
}
std::string StandinHub::cdn() const { return "http://127.0.0.1:" + std::to_string(cdn_port_); }

void StandinHub::set_token(std::string token) {
  std::lock_guard lock(mu_);
  token_ = std::move(token);
}

void StandinHub::set_lfs_threshold(int64_t bytes) {
  std::lock_guard lock(mu_);
  lfs_threshold_ = bytes;
}

std::shared_ptr<StandinHub::Blob> StandinHub::MakeBlob(StandinFile file) {
  auto blob = std::make_shared<Blob>();
  if (file.generate) {
    blob->generate = std::move(file.generate);
    blob->size = file.generated_size;
    Digest d = Digest::Sha256();
    std::string buf;
    for (int64_t off = 0; off < blob->size; off += 1 << 20) {
      buf.resize(static_cast<size_t>(std::min<int64_t>(1 << 20, blob->size - off)));
      blob->Read(off, buf.data(), buf.size());
      d.Update(buf);
    }
    blob->sha256 = d.FinishHex();
    blob->sha1 = blob->sha256.substr(0, 40);  // generated files are always LFS
    return blob;
  }
  blob->content = std::move(file.content);
  blob->size = static_cast<int64_t>(blob->content.size());
  blob->sha256 = Sha256Hex(blob->content);
  blob->sha1 = GitBlobSha1Hex(blob->content);
  return blob;
}

std::string StandinHub::NewCommitHash(const std::string& seed) {
  return GitBlobSha1Hex(seed + "#" + std::to_string(++n_commits_));
}

std::string StandinHub::AddRepo(RepoType type, const std::string& id,
                                std::vector<StandinFile> files, bool private_repo) {
  std::lock_guard lock(mu_);
  auto repo = std::make_unique<Repo>();
  repo->type = type;
  repo->id = id;
  repo->private_repo = private_repo;
  repo->main = NewCommitHash(id);
  Repo::Files& tree = repo->commits[repo->main];
  for (StandinFile& f : files) {
    const std::string path = f.path;
    const bool lfs =
        f.lfs || f.generate || static_cast<int64_t>(f.content.size()) >= lfs_threshold_;
    std::shared_ptr<Blob> blob = MakeBlob(std::move(f));
    if (lfs) lfs_[blob->sha256] = blob;
    tree[path] = {blob, lfs};
  }
  std::string commit = repo->main;
  repos_[Key(type, id)] = std::move(repo);
  return commit;
}

std::string StandinHub::MainCommit(RepoType type, const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = repos_.find(Key(type, id));
  return it == repos_.end() ? "" : it->second->main;
}

bool StandinHub::HasFile(RepoType type, const std::string& id, const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = repos_.find(Key(type, id));
  if (it == repos_.end()) return false;
  return it->second->commits.at(it->second->main).count(path) != 0;
}

void StandinHub::DropAfterOnce(const std::string& path, int64_t n_bytes) {
  std::lock_guard lock(mu_);
  drop_after_[path] = n_bytes;
}

void StandinHub::Corrupt(const std::string& path) {
  std::lock_guard lock(mu_);
  corrupt_[path] = true;
}

std::vector<SeenRequest> StandinHub::Requests() const {
  std::lock_guard lock(mu_);
  return seen_;
}

int StandinHub::CountRequests(const std::string& method, const std::string& path_part) const {
  std::lock_guard lock(mu_);
  return static_cast<int>(std::count_if(seen_.begin(), seen_.end(), [&](const SeenRequest& r) {
    return r.method == method && r.path.find(path_part) != std::string::npos;
  }));
}

int StandinHub::lfs_uploads() const {
  std::lock_guard lock(mu_);
  return lfs_uploads_;
}

void StandinHub::Record(const std::string& host, const httplib::Request& req) {
  std::lock_guard lock(mu_);
  seen_.push_back({host, req.method, req.path, req.get_header_value("Range"),
                   req.get_header_value("Authorization")});
}

bool StandinHub::Authorized(const httplib::Request& req) const {
  return req.get_header_value("Authorization") == "Bearer " + token_;
}

StandinHub::Repo* StandinHub::FindRepo(RepoType type, const std::string& id) {
  auto it = repos_.find(Key(type, id));
  return it == repos_.end() ? nullptr : it->second.get();
}

void StandinHub::Route() {
  main_.Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
    Record("main", req);
    HandleMainGet(req, res);
  });
  main_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
    Record("main", req);
    HandleMainPost(req, res);
  });
  cdn_.Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
    Record("cdn", req);
    HandleCdnGet(req, res);
  });
  cdn_.Put(".*", [this](const httplib::Request& req, httplib::Response& res) {
    Record("cdn", req);
    HandleCdnPut(req, res);
  });
}

// GET/HEAD /api/{models|datasets}/ORG/NAME/revision/REV and [/datasets]/ORG/NAME/resolve/REV/PATH.
void StandinHub::HandleMainGet(const httplib::Request& req, httplib::Response& res) {
  const std::string& path = req.path;
  for (RepoType type : {RepoType::kModel, RepoType::kDataset}) {
    const std::string api = fmt::format("/api/{}s/", RepoTypeName(type));
    if (path.starts_with(api)) return HandleRevisionInfo(path.substr(api.size()), type, req, res);
  }
  if (path.starts_with("/datasets/")) {
    return HandleResolve(RepoType::kDataset, path.substr(10), req, res);
  }
  HandleResolve(RepoType::kModel, path.substr(1), req, res);
}

void StandinHub::HandleRevisionInfo(const std::string& rest, RepoType type,
                                    const httplib::Request& req, httplib::Response& res) {
  std::vector<std::string> parts = Split(rest, '/', 4);  // ORG NAME revision REV
  if (parts.size() != 4 || parts[2] != "revision") return Error(res, 404, "", "Not Found");
  std::lock_guard lock(mu_);
  Repo* repo = FindRepo(type, parts[0] + "/" + parts[1]);
  if (repo == nullptr) return Error(res, 404, "RepoNotFound", "Repository not found");
  if (repo->private_repo && !Authorized(req)) {
    return Error(res, 401, "RepoNotFound", "Invalid username or password.");
  }
  std::string commit = parts[3] == "main" ? repo->main : parts[3];
  auto tree = repo->commits.find(commit);
  if (tree == repo->commits.end()) {
    return Error(res, 404, "RevisionNotFound", "Invalid rev id: " + parts[3]);
  }
  json siblings = json::array();
  for (const auto& [p, entry] : tree->second) siblings.push_back({{"rfilename", p}});
  res.set_content(json{{"id", repo->id}, {"sha", commit}, {"siblings", siblings}}.dump(),
                  "application/json");
}

void StandinHub::HandleResolve(RepoType type, const std::string& rest, const httplib::Request& req,
                               httplib::Response& res) {
  std::vector<std::string> parts = Split(rest, '/', 5);  // ORG NAME resolve REV PATH
  if (parts.size() != 5 || parts[2] != "resolve") return Error(res, 404, "", "Not Found");
  std::lock_guard lock(mu_);
  Repo* repo = FindRepo(type, parts[0] + "/" + parts[1]);
  if (repo == nullptr) return Error(res, 404, "RepoNotFound", "Repository not found");
  if (repo->private_repo && !Authorized(req)) {
    return Error(res, 401, "RepoNotFound", "Invalid username or password.");
  }
  std::string commit = parts[3] == "main" ? repo->main : parts[3];
  auto tree = repo->commits.find(commit);
  if (tree == repo->commits.end()) {
    return Error(res, 404, "RevisionNotFound", "Invalid rev id: " + parts[3]);
  }
  auto entry = tree->second.find(parts[4]);
  if (entry == tree->second.end()) {
    return Error(res, 404, "EntryNotFound", parts[4] + " does not exist on \"" + parts[3] + "\"");
  }
  const Blob& blob = *entry->second.blob;
  res.set_header("X-Repo-Commit", commit);
  if (entry->second.lfs) {
    // As the Hub: a redirect to a signed CDN URL, with the LFS metadata on the redirect.
    res.status = 302;
    res.set_header("Location", cdn() + "/lfs/" + blob.sha256 + "?file=" + parts[4] + "&sig=x");
    res.set_header("X-Linked-Etag", "\"" + blob.sha256 + "\"");
    res.set_header("X-Linked-Size", std::to_string(blob.size));
    res.set_header("ETag", "\"" + blob.sha1 + "\"");
    return;
  }
  res.set_header("ETag", "\"" + blob.sha1 + "\"");
  res.set_content(blob.content, "application/octet-stream");
}

// GET /lfs/<sha256>?file=PATH: the bytes, with Range (cpp-httplib answers 206 + Content-Range
// for a content provider when the request has a Range).
void StandinHub::HandleCdnGet(const httplib::Request& req, httplib::Response& res) {
  if (!req.path.starts_with("/lfs/")) return Error(res, 404, "", "Not Found");
  std::shared_ptr<Blob> blob;
  int64_t drop_at = -1;
  bool corrupt = false;
  {
    std::lock_guard lock(mu_);
    auto it = lfs_.find(req.path.substr(5));
    if (it == lfs_.end()) return Error(res, 404, "", "No such object");
    blob = it->second;
    const std::string file = req.get_param_value("file");
    if (auto d = drop_after_.find(file); d != drop_after_.end()) {
      drop_at = d->second;
      drop_after_.erase(d);
    }
    corrupt = corrupt_.count(file) != 0;
  }
  res.set_content_provider(
      static_cast<size_t>(blob->size), "application/octet-stream",
      [blob, drop_at, corrupt](size_t offset, size_t length, httplib::DataSink& sink) {
        size_t n = std::min<size_t>(length, 256 << 10);
        if (drop_at >= 0) {
          if (static_cast<int64_t>(offset) >= drop_at) return false;  // cut the connection
          n = std::min<size_t>(n, static_cast<size_t>(drop_at) - offset);
        }
        std::string buf(n, '\0');
        blob->Read(static_cast<int64_t>(offset), buf.data(), n);
        if (corrupt) {
          for (char& c : buf) c = static_cast<char>(c ^ 0x5a);
        }
        return sink.write(buf.data(), n);
      });
}

// PUT /upload/<sha256>: an LFS object, with the header the batch answer asked for.
void StandinHub::HandleCdnPut(const httplib::Request& req, httplib::Response& res) {
  if (!req.path.starts_with("/upload/")) return Error(res, 404, "", "Not Found");
  const std::string oid = req.path.substr(8);
  if (req.get_header_value("X-Upload-Token") != "signed-" + oid) {
    return Error(res, 403, "", "bad upload signature");
  }
  StandinFile f{.path = "", .content = req.body};
  std::shared_ptr<Blob> blob = MakeBlob(std::move(f));
  if (blob->sha256 != oid) return Error(res, 400, "", "sha256 mismatch");
  std::lock_guard lock(mu_);
  lfs_[oid] = blob;
  ++lfs_uploads_;
  res.status = 200;
}

void StandinHub::HandleMainPost(const httplib::Request& req, httplib::Response& res) {
  const std::string& path = req.path;
  if (path == "/api/repos/create") return HandleCreate(req, res);
  if (path.ends_with(".git/info/lfs/objects/batch")) return HandleBatch(req, res);
  if (path.ends_with(".git/info/lfs/objects/verify")) return HandleVerify(req, res);
  for (RepoType type : {RepoType::kModel, RepoType::kDataset}) {
    const std::string api = fmt::format("/api/{}s/", RepoTypeName(type));
    if (!path.starts_with(api)) continue;
    std::vector<std::string> parts = Split(path.substr(api.size()), '/', 4);
    if (parts.size() != 4) break;
    if (!Authorized(req)) return Error(res, 401, "", "Invalid username or password.");
    std::lock_guard lock(mu_);
    Repo* repo = FindRepo(type, parts[0] + "/" + parts[1]);
    if (repo == nullptr) return Error(res, 404, "RepoNotFound", "Repository not found");
    if (parts[2] == "preupload") return HandlePreupload(*repo, req, res);
    if (parts[2] == "commit") return HandleCommit(*repo, req, res);
  }
  Error(res, 404, "", "Not Found");
}

void StandinHub::HandleCreate(const httplib::Request& req, httplib::Response& res) {
  if (!Authorized(req)) return Error(res, 401, "", "Invalid username or password.");
  json j = json::parse(req.body, nullptr, false);
  if (!j.is_object() || !j.contains("name")) return Error(res, 400, "", "no name");
  Result<RepoType> type = ParseRepoType(j.value("type", "model"));
  if (!type.ok()) return Error(res, 400, "", "bad type");
  const std::string id = j.value("organization", "") + "/" + j.value("name", "");
  if (!MainCommit(*type, id).empty()) {
    return Error(res, 409, "",
                 fmt::format("You already created this {} repo", RepoTypeName(*type)));
  }
  // A new Hub repo starts with one commit holding .gitattributes.
  AddRepo(*type, id, {{.path = ".gitattributes", .content = "*.safetensors filter=lfs -text\n"}},
          j.value("private", false));
  res.set_content(json{{"url", endpoint() + "/" + id}}.dump(), "application/json");
}

void StandinHub::HandlePreupload(Repo&, const httplib::Request& req, httplib::Response& res) {
  json j = json::parse(req.body, nullptr, false);
  if (!j.is_object() || !j.contains("files")) return Error(res, 400, "", "no files");
  json out = json::array();
  for (const json& f : j["files"]) {
    const std::string path = f.value("path", "");
    const bool lfs = f.value("size", int64_t{0}) >= lfs_threshold_ || LfsByName(path);
    if (!f.contains("sample") || !f["sample"].is_string()) return Error(res, 400, "", "no sample");
    out.push_back(
        {{"path", path}, {"uploadMode", lfs ? "lfs" : "regular"}, {"shouldIgnore", false}});
  }
  res.set_content(json{{"files", out}}.dump(), "application/json");
}

void StandinHub::HandleBatch(const httplib::Request& req, httplib::Response& res) {
  if (req.get_header_value("Accept") != kLfsMediaType ||
      req.get_header_value("Content-Type") != kLfsMediaType) {
    return Error(res, 406, "", "git-lfs media type expected");
  }
  if (!Authorized(req)) return Error(res, 401, "", "Invalid username or password.");
  json j = json::parse(req.body, nullptr, false);
  if (!j.is_object() || j.value("operation", "") != "upload" || !j.contains("objects")) {
    return Error(res, 400, "", "bad batch request");
  }
  const std::string repo_prefix = req.path.substr(0, req.path.size() - 5);  // ".../objects/"
  json objects = json::array();
  std::lock_guard lock(mu_);
  for (const json& o : j["objects"]) {
    const std::string oid = o.value("oid", "");
    const int64_t size = o.value("size", int64_t{-1});
    json out = {{"oid", oid}, {"size", size}, {"authenticated", true}};
    if (lfs_.count(oid) == 0) {
      out["actions"] = {
          {"upload",
           {{"href", cdn() + "/upload/" + oid}, {"header", {{"X-Upload-Token", "signed-" + oid}}}}},
          {"verify",
           {{"href", endpoint() + repo_prefix + "verify"}, {"header", {{"X-Verify-Token", "v"}}}}}};
    }
    objects.push_back(out);
  }
  res.set_content(json{{"transfer", "basic"}, {"objects", objects}}.dump(), kLfsMediaType);
}

void StandinHub::HandleVerify(const httplib::Request& req, httplib::Response& res) {
  json j = json::parse(req.body, nullptr, false);
  std::lock_guard lock(mu_);
  const std::string oid = j.is_object() ? j.value("oid", "") : "";
  auto it = lfs_.find(oid);
  if (it == lfs_.end() || it->second->size != j.value("size", int64_t{-1})) {
    return Error(res, 404, "", "object not uploaded");
  }
  res.set_content("{}", "application/json");
}

void StandinHub::HandleCommit(Repo& repo, const httplib::Request& req, httplib::Response& res) {
  if (req.get_header_value("Content-Type") != "application/x-ndjson") {
    return Error(res, 400, "", "NDJSON expected");
  }
  Repo::Files tree = repo.commits.at(repo.main);
  std::istringstream lines(req.body);
  std::string line;
  bool header = false;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, false);
    const std::string key = j.is_object() ? j.value("key", "") : "";
    if (!j.is_object() || !j.contains("value")) return Error(res, 400, "", "bad line");
    const json& v = j["value"];
    if (key == "header") {
      header = v.contains("summary");
    } else if (key == "file") {
      Result<std::string> bytes = Base64Decode(v.value("content", ""));
      if (!bytes.ok() || v.value("encoding", "") != "base64") {
        return Error(res, 400, "", "bad file content");
      }
      tree[v.value("path", "")] = {MakeBlob({.path = "", .content = std::move(*bytes)}), false};
    } else if (key == "lfsFile") {
      auto it = lfs_.find(v.value("oid", ""));
      if (it == lfs_.end() || it->second->size != v.value("size", int64_t{-1})) {
        return Error(res, 422, "", "LFS object missing: " + v.value("oid", ""));
      }
      tree[v.value("path", "")] = {it->second, true};
    } else {
      return Error(res, 400, "", "unknown key " + key);
    }
  }
  if (!header) return Error(res, 400, "", "no header line");
  repo.main = NewCommitHash(repo.id + req.body);
  repo.commits[repo.main] = std::move(tree);
  res.set_content(json{{"commitOid", repo.main},
                       {"commitUrl", endpoint() + "/" + repo.id + "/commit/" + repo.main}}
                      .dump(),
                  "application/json");
}

}  // namespace medassist::hub::testing
