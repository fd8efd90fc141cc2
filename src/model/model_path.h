// Where a model named on the command line lives: a folder or .gguf file as given, or a Hugging
// Face repo id ("Qwen/Qwen2.5-3B-Instruct", "ORG/NAME@REVISION") found in the standard Hugging Face
// hub cache, the layout `huggingface-cli download` writes:
//
//   <cache root>/models--ORG--NAME/refs/<revision>        holds a commit hash
//   <cache root>/models--ORG--NAME/snapshots/<hash>/      the files of that commit
//
// Nothing is downloaded here.
#pragma once

#include <string>

#include "core/status.h"

namespace medassist::model {

// The hub cache root from the environment, as huggingface_hub computes it: $HF_HUB_CACHE, else
// $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else $HOME/.cache/huggingface/hub ("" when
// none of these is set).
std::string HfHubCacheRoot();

// An existing folder or file -> itself. Otherwise a repo id looked up under HfHubCacheRoot().
// The revision defaults to "main"; it may be a branch or tag (resolved through refs/) or a commit
// hash that names a snapshot folder. InvalidArgument for a malformed repo id ("..", backslashes,
// empty parts); NotFound saying what was tried, with the command that downloads the model.
Result<std::string> ResolveModelPath(const std::string& spec);
// The same with an explicit cache root (tests).
Result<std::string> ResolveModelPath(const std::string& spec, const std::string& hub_cache_root);

}  // namespace medassist::model
