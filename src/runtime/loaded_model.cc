#include "runtime/loaded_model.h"

#include <algorithm>

#include "core/file.h"
#include "model/model_path.h"

namespace medassist::runtime {
namespace {

// Where the tokenizer of a model comes from when none is given.
Result<std::string> TokenizerSourceOf(const model::Model& model) {
  if (model.format() == model::ModelFormat::kGguf) return model.path();
  const std::string& dir = model.path();
  if (FileExists(dir + "/tokenizer.json") ||
      (FileExists(dir + "/vocab.json") && FileExists(dir + "/merges.txt"))) {
    return dir;
  }
  return NotFound("model folder " + dir +
                  " has no tokenizer (no tokenizer.json, nor vocab.json with merges.txt); pass "
                  "one with --tokenizer PATH (a tokenizer folder, tokenizer.json or .gguf file)");
}

std::vector<int32_t> CollectEosIds(const model::Model& model, const tokenizer::Tokenizer& tok) {
  std::vector<int32_t> ids = model.generation_config().eos_token_id;
  const std::vector<int32_t>& from_config = model.config().eos_token_id;
  ids.insert(ids.end(), from_config.begin(), from_config.end());
  if (tok.eos_id()) ids.push_back(*tok.eos_id());
  const int64_t vocab = model.config().vocab_size;
  std::erase_if(ids, [vocab](int32_t id) { return id < 0 || id >= vocab; });
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

}  // namespace

Result<LoadedModel> LoadModelWithTokenizer(const std::string& model_spec,
                                           const std::string& tokenizer_path) {
  ASSIGN_OR_RETURN(std::string path, model::ResolveModelPath(model_spec));
  ASSIGN_OR_RETURN(model::Model model, model::Model::Open(path));
  std::string tok_source = tokenizer_path;
  if (tok_source.empty()) {
    ASSIGN_OR_RETURN(tok_source, TokenizerSourceOf(model));
  }
  ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, tokenizer::Tokenizer::Load(tok_source));
  if (tok.vocab_size() > model.config().vocab_size) {
    return InvalidArgument("tokenizer " + tok_source + " has " + std::to_string(tok.vocab_size()) +
                           " tokens but model " + path + " only " +
                           std::to_string(model.config().vocab_size) +
                           ": they do not belong together (check --tokenizer)");
  }
  std::vector<int32_t> eos = CollectEosIds(model, tok);
  return LoadedModel{std::move(model), std::move(tok), std::move(eos)};
}

}  // namespace medassist::runtime
