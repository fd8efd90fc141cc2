// Tokenizer::Load and LoadTokenizerSpec: finding the tokenizer files in a model folder or file.
#include <filesystem>

#include "core/file.h"
#include "formats/gguf_reader.h"
#include "tokenizer/loaders.h"
#include "tokenizer/tokenizer.h"

namespace medassist::tokenizer {
namespace {

namespace fs = std::filesystem;

// Tokenizer files are a few MB; anything near this is not a tokenizer.
constexpr size_t kMaxTokenizerFileBytes = size_t{256} << 20;

Result<std::string> ReadOptional(const std::string& path) {
  if (!FileExists(path)) return std::string();
  return ReadFile(path, kMaxTokenizerFileBytes);
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

Result<TokenizerSpec> LoadFolder(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string config, ReadOptional(dir + "/tokenizer_config.json"));
  if (FileExists(dir + "/tokenizer.json")) {
    ASSIGN_OR_RETURN(std::string json, ReadFile(dir + "/tokenizer.json", kMaxTokenizerFileBytes));
    return SpecFromHfTokenizerJson(json, config, dir + "/tokenizer.json");
  }
  if (FileExists(dir + "/vocab.json") && FileExists(dir + "/merges.txt")) {
    ASSIGN_OR_RETURN(std::string vocab, ReadFile(dir + "/vocab.json", kMaxTokenizerFileBytes));
    ASSIGN_OR_RETURN(std::string merges, ReadFile(dir + "/merges.txt", kMaxTokenizerFileBytes));
    return SpecFromVocabAndMerges(vocab, merges, config, dir);
  }
  return NotFound(dir + ": no tokenizer.json, nor vocab.json with merges.txt");
}

}  // namespace

Result<TokenizerSpec> LoadTokenizerSpec(const std::string& path) {
  std::error_code ec;
  Result<TokenizerSpec> spec = NotFound(path + ": no such file or folder");
  if (fs::is_directory(path, ec)) {
    spec = LoadFolder(path);
  } else if (EndsWith(path, ".gguf")) {
    ASSIGN_OR_RETURN(formats::GgufFile gguf, formats::GgufFile::Open(path));
    spec = SpecFromGguf(gguf, path);
  } else if (FileExists(path)) {
    std::string dir = fs::path(path).parent_path().string();
    ASSIGN_OR_RETURN(std::string config,
                     ReadOptional((dir.empty() ? "." : dir) + "/tokenizer_config.json"));
    ASSIGN_OR_RETURN(std::string json, ReadFile(path, kMaxTokenizerFileBytes));
    spec = SpecFromHfTokenizerJson(json, config, path);
  }
  return spec;
}

Result<Tokenizer> Tokenizer::Load(const std::string& path) {
  ASSIGN_OR_RETURN(TokenizerSpec spec, LoadTokenizerSpec(path));
  return Create(std::move(spec));
}

}  // namespace medassist::tokenizer
