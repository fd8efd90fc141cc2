#include "qwen_fixture.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "formats/gguf_writer.h"
#include "support/test_support.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/loaders.h"

namespace medassist::tokenizer::testing {
namespace {

using medassist::testing::ReadFileOrFail;
using medassist::testing::ReadGzipOrFail;
using medassist::testing::SharedDataPath;

Tokenizer LoadOrDie(Result<Tokenizer> r) {
  CHECK(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

Tokenizer BuildFromGguf() {
  std::string dir = QwenDir();
  auto vocab = nlohmann::json::parse(ReadFileOrFail(dir + "/vocab.json"));
  auto config = nlohmann::json::parse(ReadFileOrFail(dir + "/tokenizer_config.json"));
  std::vector<std::string> tokens(vocab.size());
  for (auto& [piece, id] : vocab.items()) tokens[id.get<size_t>()] = piece;
  std::vector<int32_t> types(tokens.size(), 1);
  std::vector<std::pair<size_t, nlohmann::json>> added;
  for (auto& [id, tok] : config["added_tokens_decoder"].items()) {
    size_t i = std::stoul(id);
    if (i >= tokens.size()) {
      tokens.resize(i + 1);
      types.resize(i + 1, 5);
    }
    tokens[i] = tok["content"].get<std::string>();
    types[i] = tok["special"].get<bool>() ? 3 : 4;
  }
  std::vector<std::string> merges;
  std::string merges_text = ReadFileOrFail(dir + "/merges.txt");
  for (size_t pos = 0; pos < merges_text.size();) {
    size_t eol = merges_text.find('\n', pos);
    if (eol == std::string::npos) eol = merges_text.size();
    if (eol > pos) merges.push_back(merges_text.substr(pos, eol - pos));
    pos = eol + 1;
  }
  formats::GgufWriter w;
  w.AddString("general.architecture", "qwen2");
  w.AddString("tokenizer.ggml.model", "gpt2");
  w.AddString("tokenizer.ggml.pre", "qwen2");
  w.AddStringArray("tokenizer.ggml.tokens", std::span<const std::string>(tokens));
  w.AddInt32Array("tokenizer.ggml.token_type", std::span<const int32_t>(types));
  w.AddStringArray("tokenizer.ggml.merges", std::span<const std::string>(merges));
  w.AddUint32("tokenizer.ggml.eos_token_id", 151645);
  w.AddUint32("tokenizer.ggml.padding_token_id", 151643);
  w.AddUint32("tokenizer.ggml.bos_token_id", 151643);
  w.AddBool("tokenizer.ggml.add_bos_token", false);
  w.AddString("tokenizer.chat_template", config["chat_template"].get<std::string>());
  static medassist::testing::TempDir tmp;
  std::string path = tmp.path() + "/qwen-tokenizer.gguf";
  Status s = w.WriteToFile(path);
  CHECK(s.ok()) << s.ToString();
  return LoadOrDie(Tokenizer::Load(path));
}

}  // namespace

std::string QwenDir() { return SharedDataPath("qwen-tokenizer"); }

std::vector<std::string> SplitVectors(const std::string& text, const std::string& sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (size_t next; (next = text.find(sep, pos)) != std::string::npos; pos = next + sep.size()) {
    out.push_back(text.substr(pos, next - pos));
  }
  return out;
}

const Tokenizer& QwenFromTokenizerJson() {
  static const Tokenizer t = [] {
    std::string json = ReadGzipOrFail(QwenDir() + "/tokenizer.json.gz");
    std::string config = ReadFileOrFail(QwenDir() + "/tokenizer_config.json");
    auto spec = SpecFromHfTokenizerJson(json, config, "tokenizer.json");
    CHECK(spec.ok()) << spec.status().ToString();
    return LoadOrDie(Tokenizer::Create(std::move(spec).value()));
  }();
  return t;
}

const Tokenizer& QwenFromVocabMerges() {
  static const Tokenizer t = LoadOrDie(Tokenizer::Load(QwenDir()));
  return t;
}

const Tokenizer& QwenFromGguf() {
  static const Tokenizer t = BuildFromGguf();
  return t;
}

}  // namespace medassist::tokenizer::testing
