// A stand-in Hugging Face Hub on loopback for the hub client's tests: the endpoints and headers
// huggingface_hub relies on (see src/hub/download.h and upload.h), served by cpp-httplib from
// repositories built in memory. Two hosts, as on the real Hub: the main host (API, /resolve/,
// git-lfs batch) and a "CDN" host for LFS bytes (downloads behind the 302 of /resolve/, uploads
// to the batch API's hrefs).
//
// Faults on demand: a connection dropped after N bytes of a file (once), wrong bytes for a file,
// and a log of every request (method, host, path, Range, Authorization) to assert on.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hub/repo_id.h"

namespace medassist::hub::testing {

struct StandinFile {
  std::string path = {};
  std::string content = {};
  bool lfs = false;  // served through the CDN (also when content size >= lfs_threshold)
  // A generated file instead of `content` (large files that must not sit in memory): size bytes,
  // generate(offset, out, n) fills out[0, n) with the bytes at [offset, offset + n).
  int64_t generated_size = -1;
  std::function<void(int64_t offset, char* out, size_t n)> generate = {};
};

struct SeenRequest {
  std::string host;  // "main" or "cdn"
  std::string method;
  std::string path;
  std::string range;          // the Range header, "" when none
  std::string authorization;  // the Authorization header, "" when none
};

class StandinHub {
 public:
  StandinHub();
  ~StandinHub();
  StandinHub(const StandinHub&) = delete;
  StandinHub& operator=(const StandinHub&) = delete;

  std::string endpoint() const;  // http://127.0.0.1:PORT of the main host
  std::string cdn() const;       // http://127.0.0.1:PORT of the CDN host

  // The token that opens private repos and allows uploads ("Bearer TOKEN").
  void set_token(std::string token);
  // Files of at least this size are LFS files (uploads: preupload answers "lfs").
  void set_lfs_threshold(int64_t bytes);

  // Creates (or replaces) a repo whose "main" is one commit holding files; returns its hash.
  std::string AddRepo(RepoType type, const std::string& id, std::vector<StandinFile> files,
                      bool private_repo = false);
  // The commit "main" points at ("" when there is no such repo).
  std::string MainCommit(RepoType type, const std::string& id) const;
  // The bytes of a file at main (not for generated files); nullopt-like "" check via HasFile.
  bool HasFile(RepoType type, const std::string& id, const std::string& path) const;

  // The next download of this LFS file (by path in any repo) stops after n bytes: the CDN closes
  // the connection mid-body. Once.
  void DropAfterOnce(const std::string& path, int64_t n_bytes);
  // Every download of this LFS file serves altered bytes (its sha256 no longer matches).
  void Corrupt(const std::string& path);

  std::vector<SeenRequest> Requests() const;
  // Requests whose method is `method` and whose path contains `path_part`.
  int CountRequests(const std::string& method, const std::string& path_part) const;
  int lfs_uploads() const;  // PUTs of LFS bytes the CDN accepted

 private:
  struct Blob;
  struct Repo;
  void Route();
  void Record(const std::string& host, const httplib::Request& req);
  bool Authorized(const httplib::Request& req) const;
  Repo* FindRepo(RepoType type, const std::string& id);
  void HandleMainGet(const httplib::Request& req, httplib::Response& res);
  void HandleMainPost(const httplib::Request& req, httplib::Response& res);
  void HandleCdnGet(const httplib::Request& req, httplib::Response& res);
  void HandleCdnPut(const httplib::Request& req, httplib::Response& res);
  void HandleRevisionInfo(const std::string& rest, RepoType type, const httplib::Request& req,
                          httplib::Response& res);
  void HandleResolve(RepoType type, const std::string& rest, const httplib::Request& req,
                     httplib::Response& res);
  void HandleCreate(const httplib::Request& req, httplib::Response& res);
  void HandlePreupload(Repo& repo, const httplib::Request& req, httplib::Response& res);
  void HandleBatch(const httplib::Request& req, httplib::Response& res);
  void HandleVerify(const httplib::Request& req, httplib::Response& res);
  void HandleCommit(Repo& repo, const httplib::Request& req, httplib::Response& res);
  std::shared_ptr<Blob> MakeBlob(StandinFile file);
  std::string NewCommitHash(const std::string& seed);

  mutable std::mutex mu_;
  std::string token_ = "hf_test_token";
  int64_t lfs_threshold_ = 4096;
  std::map<std::string, std::unique_ptr<Repo>> repos_;  // "model:ORG/NAME"
  std::map<std::string, std::shared_ptr<Blob>> lfs_;    // sha256 -> bytes (the LFS store)
  std::map<std::string, int64_t> drop_after_;           // path -> bytes, once
  std::map<std::string, bool> corrupt_;                 // path -> serve wrong bytes
  std::vector<SeenRequest> seen_;
  int lfs_uploads_ = 0;
  int n_commits_ = 0;

  httplib::Server main_;
  httplib::Server cdn_;
  int main_port_ = 0;
  int cdn_port_ = 0;
  std::thread main_thread_;
  std::thread cdn_thread_;
};

}  // namespace medassist::hub::testing
