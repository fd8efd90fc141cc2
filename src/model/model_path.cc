#include "model/model_path.h"

#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <vector>

#include "core/file.h"

namespace medassist::model {
namespace {

namespace fs = std::filesystem;

struct RepoId {
  std::string org, name, revision;
  bool explicit_revision = false;
};

std::string Getenv(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::vector<std::string_view> SplitSlash(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    parts.push_back(s.substr(start, slash == std::string_view::npos ? s.npos : slash - start));
    if (slash == std::string_view::npos) return parts;
    start = slash + 1;
  }
}

// Each '/'-separated part is non-empty, not "." or "..", and has no backslash: the id becomes
// folder names, so it must not be able to name anything outside the cache.
bool SafeParts(std::string_view s, size_t max_parts) {
  std::vector<std::string_view> parts = SplitSlash(s);
  if (parts.size() > max_parts) return false;
  for (std::string_view p : parts) {
    if (p.empty() || p == "." || p == ".." || p.find('\\') != p.npos) return false;
    if (p.find("..") != p.npos) return false;
  }
  return true;
}

Result<RepoId> ParseRepoId(const std::string& spec) {
  auto bad = [&] {
    return InvalidArgument("model '" + spec +
                           "' is not a file or folder, and not a Hugging Face repo id "
                           "(ORG/NAME or ORG/NAME@REVISION; no '..', backslashes or empty parts)");
  };
  RepoId id;
  std::string_view repo = spec;
  if (size_t at = spec.find('@'); at != std::string::npos) {
    id.revision = spec.substr(at + 1);
    id.explicit_revision = true;
    repo = std::string_view(spec).substr(0, at);
    // A branch may contain '/' (refs/pr/1), each part safe.
    if (!SafeParts(id.revision, 8)) return bad();
  } else {
    id.revision = "main";
  }
  std::vector<std::string_view> parts = SplitSlash(repo);
  if (parts.size() != 2 || !SafeParts(repo, 2)) return bad();
  id.org = std::string(parts[0]);
  id.name = std::string(parts[1]);
  return id;
}

std::string DownloadHint(const RepoId& id) {
  std::string cmd = "medassist pull " + id.org + "/" + id.name;
  if (id.explicit_revision) cmd += "@" + id.revision;
  return "download it with `" + cmd + "` (or huggingface-cli download) or pass a path";
}

// A commit hash read from refs/<revision>: one line of hex digits.
Result<std::string> ReadRef(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, 4096));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  if (text.empty() || text.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
    return DataLoss(path + ": expected a commit hash, found '" + text.substr(0, 64) + "'");
  }
  return text;
}

bool IsDir(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

}  // namespace

std::string HfHubCacheRoot() {
  if (std::string v = Getenv("HF_HUB_CACHE"); !v.empty()) return v;
  if (std::string v = Getenv("HF_HOME"); !v.empty()) return v + "/hub";
  if (std::string v = Getenv("XDG_CACHE_HOME"); !v.empty()) return v + "/huggingface/hub";
  if (std::string v = Getenv("HOME"); !v.empty()) return v + "/.cache/huggingface/hub";
  return "";
}

Result<std::string> ResolveModelPath(const std::string& spec) {
  return ResolveModelPath(spec, HfHubCacheRoot());
}

Result<std::string> ResolveModelPath(const std::string& spec, const std::string& hub_cache_root) {
  if (spec.empty()) return InvalidArgument("no model given (a folder, a .gguf file or ORG/NAME)");
  std::error_code ec;
  if (fs::exists(spec, ec)) return spec;
  // Something spelled as a path is reported as a missing path, not as a bad repo id.
  if (spec[0] == '/' || spec[0] == '.' || spec[0] == '~' || spec.ends_with(".gguf")) {
    return NotFound("model '" + spec + "': no such file or folder");
  }
  ASSIGN_OR_RETURN(RepoId id, ParseRepoId(spec));
  const std::string folder = "models--" + id.org + "--" + id.name;
  if (hub_cache_root.empty()) {
    return NotFound("model '" + spec +
                    "' is not a file or folder, and no Hugging Face cache is configured (none of "
                    "HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, HOME is set); " +
                    DownloadHint(id));
  }
  const std::string repo_dir = hub_cache_root + "/" + folder;
  if (!IsDir(repo_dir)) {
    return NotFound("model '" + spec +
                    "' is not a file or folder, and not in the Hugging Face "
                    "cache at " +
                    hub_cache_root + " (no " + folder + "); " + DownloadHint(id));
  }
  const std::string ref = repo_dir + "/refs/" + id.revision;
  if (FileExists(ref) && !IsDir(ref)) {
    ASSIGN_OR_RETURN(std::string hash, ReadRef(ref));
    std::string snapshot = repo_dir + "/snapshots/" + hash;
    if (IsDir(snapshot)) return snapshot;
    return NotFound("model '" + spec + "': " + ref + " names commit " + hash + " but " + snapshot +
                    " is missing; " + DownloadHint(id));
  }
  // A revision given as a commit hash names its snapshot folder directly.
  std::string snapshot = repo_dir + "/snapshots/" + id.revision;
  if (IsDir(snapshot)) return snapshot;
  return NotFound("model '" + spec + "' is in the Hugging Face cache at " + hub_cache_root +
                  " but not at revision '" + id.revision + "' (no refs/" + id.revision +
                  " and no snapshots/" + id.revision + " in " + folder + "); " + DownloadHint(id));
}

}  // namespace medassist::model
