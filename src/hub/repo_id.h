// A Hugging Face Hub repository named on the command line ("ORG/NAME", "ORG/NAME@REVISION"), and
// the Hub URLs built from it. The id becomes folder names in the cache and path parts of URLs, so
// parsing refuses anything that could name a place outside them ("..", "/x", backslashes).
//
// URL shapes, as huggingface_hub builds them (constants.py, file_download.py hf_hub_url, hf_api.py
// repo_info; https://huggingface.co/docs/hub/api):
//   {endpoint}/api/{models|datasets}/{repo_id}/revision/{revision}      file listing
//   {endpoint}/{repo_id}/resolve/{revision}/{path}                      a model file
//   {endpoint}/datasets/{repo_id}/resolve/{revision}/{path}             a data set file
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace medassist::hub {

enum class RepoType { kModel, kDataset };

// "model" / "dataset" (also the plural, as huggingface-cli takes).
Result<RepoType> ParseRepoType(std::string_view text);
// "model" or "dataset".
std::string_view RepoTypeName(RepoType type);

struct RepoRef {
  RepoType type = RepoType::kModel;
  std::string org;
  std::string name;
  std::string revision = "main";
  bool explicit_revision = false;  // "@REV" was given

  // "ORG/NAME"
  std::string id() const { return org + "/" + name; }
};

// "ORG/NAME[@REVISION]". The revision may hold '/' (refs/pr/1); each part of id and revision is
// non-empty, not "." or "..", and free of backslashes and control characters.
Result<RepoRef> ParseRepoRef(std::string_view spec, RepoType type = RepoType::kModel);

// A file path inside a repository, as a server lists it: relative, '/'-separated parts that are
// non-empty, not "." or "..", with no backslash or control character. A hostile listing must not
// make a download write outside the snapshot folder.
bool IsSafeRepoPath(std::string_view path);

// "models--ORG--NAME" / "datasets--ORG--NAME" (huggingface_hub repo_folder_name).
std::string CacheFolderName(const RepoRef& repo);

// Percent-encodes everything but unreserved characters (RFC 3986), and '/' when keep_slash.
// huggingface_hub quotes the revision with safe="" and file paths keeping '/'.
std::string UrlEncode(std::string_view text, bool keep_slash);

// {endpoint}/api/{type}s/{repo_id}
std::string ApiRepoUrl(std::string_view endpoint, const RepoRef& repo);
// {endpoint}/api/{type}s/{repo_id}/revision/{revision}
std::string RevisionInfoUrl(std::string_view endpoint, const RepoRef& repo,
                            std::string_view revision);
// {endpoint}[/datasets]/{repo_id}/resolve/{revision}/{path}
std::string ResolveUrl(std::string_view endpoint, const RepoRef& repo, std::string_view revision,
                       std::string_view path);
// {endpoint}[/datasets]/{repo_id}: the repo's page, also the root of its git (LFS) URLs.
std::string RepoWebUrl(std::string_view endpoint, const RepoRef& repo);

// The "host[:port]" of a URL (scheme and userinfo stripped), to tell another host apart.
std::string UrlHost(std::string_view url);

}  // namespace medassist::hub
