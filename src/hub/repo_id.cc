#include "hub/repo_id.h"

#include <fmt/format.h>

#include <vector>

namespace medassist::hub {
namespace {

std::vector<std::string_view> SplitSlash(std::string_view s) {
  std::vector<std::string_view> parts;
  while (true) {
    size_t slash = s.find('/');
    parts.push_back(s.substr(0, slash));
    if (slash == std::string_view::npos) return parts;
    s.remove_prefix(slash + 1);
  }
}

bool SafePart(std::string_view p) {
  if (p.empty() || p == "." || p == "..") return false;
  for (char c : p) {
    if (c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// Every part safe and at most max_parts of them.
bool SafeParts(std::string_view s, size_t max_parts) {
  std::vector<std::string_view> parts = SplitSlash(s);
  if (parts.size() > max_parts) return false;
  for (std::string_view p : parts) {
    if (!SafePart(p)) return false;
  }
  return true;
}

// Repo ids name folders ("models--ORG--NAME"): besides the path rules, no "--" (it would make
// the folder name ambiguous), no ".." anywhere, and only the characters the Hub allows.
bool SafeIdPart(std::string_view p) {
  if (!SafePart(p) || p.find("..") != p.npos || p.find("--") != p.npos) return false;
  for (char c : p) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string_view TypePrefix(RepoType type) { return type == RepoType::kDataset ? "datasets/" : ""; }

}  // namespace

Result<RepoType> ParseRepoType(std::string_view text) {
  if (text == "model" || text == "models") return RepoType::kModel;
  if (text == "dataset" || text == "datasets") return RepoType::kDataset;
  return InvalidArgument(fmt::format("repo type '{}' is not 'model' or 'dataset'", text));
}

std::string_view RepoTypeName(RepoType type) {
  return type == RepoType::kDataset ? "dataset" : "model";
}

Result<RepoRef> ParseRepoRef(std::string_view spec, RepoType type) {
  auto bad = [&] {
    return InvalidArgument(fmt::format(
        "'{}' is not a Hugging Face repo id: expected ORG/NAME or ORG/NAME@REVISION (letters, "
        "digits, '-', '_', '.'; no '..' or '--')",
        spec));
  };
  RepoRef repo;
  repo.type = type;
  std::string_view id = spec;
  if (size_t at = spec.find('@'); at != std::string_view::npos) {
    repo.revision = std::string(spec.substr(at + 1));
    repo.explicit_revision = true;
    id = spec.substr(0, at);
    if (!SafeParts(repo.revision, 8)) return bad();
  }
  std::vector<std::string_view> parts = SplitSlash(id);
  if (parts.size() != 2 || !SafeIdPart(parts[0]) || !SafeIdPart(parts[1])) return bad();
  repo.org = std::string(parts[0]);
  repo.name = std::string(parts[1]);
  return repo;
}

bool IsSafeRepoPath(std::string_view path) { return !path.empty() && SafeParts(path, 64); }

std::string CacheFolderName(const RepoRef& repo) {
  return std::string(RepoTypeName(repo.type)) + "s--" + repo.org + "--" + repo.name;
}

std::string UrlEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::string ApiRepoUrl(std::string_view endpoint, const RepoRef& repo) {
  return std::string(endpoint) + "/api/" + std::string(RepoTypeName(repo.type)) + "s/" + repo.id();
}

std::string RevisionInfoUrl(std::string_view endpoint, const RepoRef& repo,
                            std::string_view revision) {
  return ApiRepoUrl(endpoint, repo) + "/revision/" + UrlEncode(revision, false);
}

std::string RepoWebUrl(std::string_view endpoint, const RepoRef& repo) {
  return std::string(endpoint) + "/" + std::string(TypePrefix(repo.type)) + repo.id();
}

std::string ResolveUrl(std::string_view endpoint, const RepoRef& repo, std::string_view revision,
                       std::string_view path) {
  return RepoWebUrl(endpoint, repo) + "/resolve/" + UrlEncode(revision, false) + "/" +
         UrlEncode(path, true);
}

std::string UrlHost(std::string_view url) {
  if (size_t scheme = url.find("://"); scheme != std::string_view::npos) {
    url.remove_prefix(scheme + 3);
  }
  url = url.substr(0, url.find_first_of("/?#"));
  if (size_t at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  return std::string(url);
}

}  // namespace medassist::hub
