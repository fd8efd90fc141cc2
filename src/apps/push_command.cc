#include "apps/push_command.h"

#include <cstdio>
#include <memory>

#include "apps/options.h"
#include "hub/upload.h"

namespace medassist::apps {
namespace {

struct PushArgs {
  std::string folder, repo, repo_type, revision, message;
  bool private_repo = false;
};

int RunPush(const PushArgs& a) {
  Result<hub::RepoType> type = hub::ParseRepoType(a.repo_type);
  Result<hub::RepoRef> repo =
      type.ok() ? hub::ParseRepoRef(a.repo, *type) : Result<hub::RepoRef>(type.status());
  if (!repo.ok()) {
    std::fprintf(stderr, "error: %s\n", repo.status().message().c_str());
    return 1;
  }
  if (!repo->explicit_revision) repo->revision = a.revision;
  hub::PushOptions options{
      .folder = a.folder, .private_repo = a.private_repo, .message = a.message};
  Result<hub::PushResult> r = hub::PushFolder(hub::HubConfigFromEnv(), *repo, options);
  if (!r.ok()) {
    std::fprintf(stderr, "error: %s\n", r.status().ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "pushed %d files (%d LFS uploaded, %d already on the Hub) as commit %s\n",
               r->n_files, r->n_lfs_uploaded, r->n_lfs_already_there, r->commit.c_str());
  std::printf("%s\n", r->commit_url.empty() ? r->commit.c_str() : r->commit_url.c_str());
  return 0;
}

}  // namespace

void AddPushCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<PushArgs>();
  CLI::App* cmd = app.add_subcommand(
      "push",
      "Upload a folder to a Hugging Face repo as one commit, creating the repo if needed "
      "(needs HF_TOKEN with write access; HF_ENDPOINT is honoured)");
  cmd->add_option("folder", args->folder, "Folder to upload")->required();
  cmd->add_option("repo", args->repo, "Repo id ORG/NAME (ORG/NAME@BRANCH for another branch)")
      ->required();
  AddDeclaredOption(*cmd, "--repo-type", args->repo_type);
  AddDeclaredOption(*cmd, "--revision", args->revision);
  AddDeclaredFlag(*cmd, "--private", args->private_repo);
  AddDeclaredOption(*cmd, "--message", args->message);
  cmd->callback([args, exit_code] { *exit_code = RunPush(*args); });
}

}  // namespace medassist::apps
