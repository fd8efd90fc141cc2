#include "apps/pull_command.h"

#include <cstdio>
#include <memory>

#include "apps/options.h"
#include "hub/snapshot.h"

namespace medassist::apps {
namespace {

struct PullArgs {
  std::string repo, repo_type, revision, include;
};

int RunPull(const PullArgs& a) {
  Result<hub::RepoType> type = hub::ParseRepoType(a.repo_type);
  Result<hub::RepoRef> repo =
      type.ok() ? hub::ParseRepoRef(a.repo, *type) : Result<hub::RepoRef>(type.status());
  if (!repo.ok()) {
    std::fprintf(stderr, "error: %s\n", repo.status().message().c_str());
    return 1;
  }
  // --revision applies unless the id carried its own (ORG/NAME@REV).
  if (!repo->explicit_revision) repo->revision = a.revision;
  hub::SnapshotOptions options;
  options.include = hub::SplitPatterns(a.include);
  Result<std::string> dir = hub::DownloadSnapshot(hub::HubConfigFromEnv(), *repo, options);
  if (!dir.ok()) {
    std::fprintf(stderr, "error: %s\n", dir.status().ToString().c_str());
    return 1;
  }
  std::printf("%s\n", dir->c_str());
  return 0;
}

}  // namespace

void AddPullCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<PullArgs>();
  CLI::App* cmd = app.add_subcommand(
      "pull",
      "Download a Hugging Face repo into the shared hub cache and print its snapshot folder "
      "(HF_TOKEN, HF_ENDPOINT, HF_HUB_CACHE / HF_HOME and HF_HUB_OFFLINE are honoured)");
  cmd->add_option("repo", args->repo, "Repo id ORG/NAME or ORG/NAME@REVISION")->required();
  AddDeclaredOption(*cmd, "--repo-type", args->repo_type);
  AddDeclaredOption(*cmd, "--revision", args->revision);
  AddDeclaredOption(*cmd, "--include", args->include);
  cmd->callback([args, exit_code] { *exit_code = RunPull(*args); });
}

}  // namespace medassist::apps
