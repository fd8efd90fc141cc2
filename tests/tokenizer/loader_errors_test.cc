// Tokenizer files that are wrong, one defect at a time, each refused with the right StatusCode and
// a message naming the file and the problem. Files are made in a TempDir from a small valid
// tokenizer (the 256 byte tokens, a few merges, one special token), which is checked first.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <span>
#include <string>
#include <vector>

#include "formats/gguf_writer.h"
#include "support/test_support.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/loaders.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace medassist::tokenizer {
namespace {

using medassist::testing::TempDir;
using nlohmann::json;

// vocab.json content: each byte's byte-level text -> its value, then "aa", "Ġa" (256, 257).
json MiniVocabJson() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[BytesToByteLevel(std::string(1, static_cast<char>(b)))] = b;
  vocab["aa"] = 256;
  vocab[BytesToByteLevel(" a")] = 257;  // "Ġa"
  return vocab;
}

json MiniTokenizerJson() {
  json split = {{"type", "Split"},
                {"pattern", {{"Regex", kQwen2Pattern}}},
                {"behavior", "Isolated"},
                {"invert", false}};
  json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}};
  return {
      {"version", "1.0"},
      {"added_tokens", json::array({{{"id", 258}, {"content", "<|end|>"}, {"special", true}}})},
      {"normalizer", {{"type", "NFC"}}},
      {"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", {split, byte_level}}}},
      {"model", {{"type", "BPE"}, {"vocab", MiniVocabJson()}, {"merges", {"a a", "\xC4\xA0 a"}}}}};
}

const char* kQwenConfig = R"({"tokenizer_class": "Qwen2Tokenizer", "eos_token": "<|end|>",
  "added_tokens_decoder": {"258": {"content": "<|end|>", "special": true}}})";

// The JSON text of MiniTokenizerJson with its vocab object replaced by raw text (for what
// nlohmann cannot produce: duplicate keys).
std::string WithRawVocab(const std::string& vocab_text) {
  json doc = MiniTokenizerJson();
  doc["model"]["vocab"] = "VOCAB_HERE";
  std::string text = doc.dump();
  text.replace(text.find("\"VOCAB_HERE\""), 12, vocab_text);
  return text;
}

// Asserts that r failed with code and that its message contains every part.
template <typename T>
void ExpectError(const Result<T>& r, StatusCode code, const std::vector<std::string>& parts) {
  ASSERT_FALSE(r.ok()) << "expected an error containing '" << parts[0] << "'";
  EXPECT_EQ(r.status().code(), code) << r.status().ToString();
  for (const std::string& part : parts) {
    EXPECT_NE(r.status().message().find(part), std::string::npos)
        << "'" << part << "' not in: " << r.status().message();
  }
}

Result<Tokenizer> LoadJson(const TempDir& dir, const std::string& text) {
  return Tokenizer::Load(dir.WriteFile("tokenizer.json", text));
}

TEST(LoaderErrorsTest, TheMiniTokenizerIsValidInEveryLayout) {
  TempDir dir;
  auto t = LoadJson(dir, MiniTokenizerJson().dump());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->vocab_size(), 259);
  EXPECT_EQ(t->Encode("aaa a<|end|>"),
            (std::vector<TokenId>{256, 'a', 257, '<', '|', 'e', 'n', 'd', '|', '>'}));
  EXPECT_EQ(t->Encode("aa<|end|>", {.parse_special = true}), (std::vector<TokenId>{256, 258}));
  EXPECT_EQ(t->FindToken("aa"), 256);
  // A default std::string_view has a null data(): hashing it once was undefined behaviour.
  EXPECT_EQ(t->FindToken(std::string_view()), std::nullopt);
  EXPECT_TRUE(t->Encode(std::string_view()).empty());

  TempDir folder;
  folder.WriteFile("vocab.json", MiniVocabJson().dump());
  folder.WriteFile("merges.txt", "#version: 0.2\na a\n\xC4\xA0 a\n");
  folder.WriteFile("tokenizer_config.json", kQwenConfig);
  auto u = Tokenizer::Load(folder.path());
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->Encode("aaa a<|end|>", {.parse_special = true}),
            (std::vector<TokenId>{256, 'a', 257, 258}));
  EXPECT_EQ(u->eos_id(), 258);
}

TEST(LoaderErrorsTest, TruncatedOrNonObjectTokenizerJson) {
  TempDir dir;
  std::string text = MiniTokenizerJson().dump();
  ExpectError(LoadJson(dir, text.substr(0, text.size() / 2)), StatusCode::kDataLoss,
              {dir.path() + "/tokenizer.json", "invalid JSON"});
  ExpectError(LoadJson(dir, "[1, 2, 3]"), StatusCode::kDataLoss,
              {"tokenizer.json", "no 'model' object"});
  ExpectError(LoadJson(dir, "42"), StatusCode::kDataLoss, {"tokenizer.json", "no 'model' object"});
  ExpectError(LoadJson(dir, ""), StatusCode::kDataLoss, {"tokenizer.json", "invalid JSON"});
  ExpectError(LoadJson(dir, std::string(1000, '[')), StatusCode::kDataLoss, {"tokenizer.json"});
  ExpectError(LoadJson(dir, R"({"model": {"type": "BPE", "vocab": [1]}})"), StatusCode::kDataLoss,
              {"tokenizer.json", "vocabulary must be an object"});
  ExpectError(LoadJson(dir, R"({"model": {"type": "BPE", "merges": []}})"), StatusCode::kDataLoss,
              {"tokenizer.json", "no model.vocab object"});
}

TEST(LoaderErrorsTest, VocabularyIdProblems) {
  TempDir dir;
  std::string bytes = MiniVocabJson().dump();
  bytes.pop_back();  // reopen the object to add entries by hand
  ExpectError(LoadJson(dir, WithRawVocab(bytes + R"(, "xyz": 97})")), StatusCode::kDataLoss,
              {"tokenizer.json", "duplicate id 97 for 'a' and 'xyz'"});
  ExpectError(LoadJson(dir, WithRawVocab(bytes + R"(, "a": 300})")), StatusCode::kDataLoss,
              {"tokenizer.json", "token 'a' appears twice (ids 97 and 300)"});
  ExpectError(LoadJson(dir, WithRawVocab(bytes + R"(, "xyz": -1})")), StatusCode::kDataLoss,
              {"tokenizer.json", "vocabulary entry 'xyz' has no valid integer id"});
  ExpectError(LoadJson(dir, WithRawVocab(bytes + R"(, "xyz": 1.5})")), StatusCode::kDataLoss,
              {"tokenizer.json", "'xyz' has no valid integer id"});
  ExpectError(LoadJson(dir, WithRawVocab(bytes + R"(, "xyz": 18446744073709551615})")),
              StatusCode::kDataLoss, {"tokenizer.json", "'xyz' has no valid integer id"});
  ExpectError(LoadJson(dir, WithRawVocab(bytes + R"(, "xyz": 4000000})")), StatusCode::kDataLoss,
              {"tokenizer.json", "token 'xyz' has an invalid id 4000000"});
  ExpectError(LoadJson(dir, WithRawVocab(bytes + R"(, "xyz": 2147483648})")), StatusCode::kDataLoss,
              {"tokenizer.json", "invalid id 2147483648"});
  // A token outside the byte-level alphabet, and a vocabulary missing a byte.
  ExpectError(LoadJson(dir, WithRawVocab(bytes + R"(, "a b": 300})")), StatusCode::kDataLoss,
              {"tokenizer.json", "token 300 'a b' is not in the byte-level alphabet"});
  json doc = MiniTokenizerJson();
  doc["model"]["vocab"].erase("A");
  ExpectError(LoadJson(dir, doc.dump()), StatusCode::kDataLoss,
              {"tokenizer.json", "no token for byte 0x41"});
}

TEST(LoaderErrorsTest, MergeProblemsNameTheMerge) {
  TempDir dir;
  json doc = MiniTokenizerJson();
  doc["model"]["merges"] = {"a a", "\xC4\xA0 a", "a zz"};
  ExpectError(LoadJson(dir, doc.dump()), StatusCode::kDataLoss,
              {"tokenizer.json", "merge 3 names unknown token 'zz'"});
  doc["model"]["merges"] = {"a a", "aa"};
  ExpectError(LoadJson(dir, doc.dump()), StatusCode::kDataLoss,
              {"tokenizer.json", "merge 2 is not two tokens separated by one space: 'aa'"});
  doc["model"]["merges"] = json::array({json::array({"a", "a"}), json::array({"a", "qq"})});
  ExpectError(LoadJson(dir, doc.dump()), StatusCode::kDataLoss,
              {"tokenizer.json", "merge 2 names unknown token 'qq'"});
  doc["model"]["merges"] = json::array({json::array({"a", "a", "a"})});
  ExpectError(LoadJson(dir, doc.dump()), StatusCode::kDataLoss,
              {"tokenizer.json", "exactly two strings"});
  doc["model"]["merges"] = {"a b"};  // both tokens exist, "ab" does not
  ExpectError(LoadJson(dir, doc.dump()), StatusCode::kDataLoss,
              {"tokenizer.json", "merge 1 (tokens 97 + 98) forms a string that is not a token"});

  TempDir folder;
  folder.WriteFile("vocab.json", MiniVocabJson().dump());
  folder.WriteFile("tokenizer_config.json", kQwenConfig);
  folder.WriteFile("merges.txt", "#version: 0.2\na a\naa\n");
  ExpectError(Tokenizer::Load(folder.path()), StatusCode::kDataLoss,
              {folder.path(), "merges.txt", "merge 2 is not two tokens separated by one space"});
  folder.WriteFile("merges.txt", "a a\r\n\xC4\xA0 nope\r\n");
  ExpectError(Tokenizer::Load(folder.path()), StatusCode::kDataLoss,
              {folder.path(), "merges.txt", "merge 2 names unknown token 'nope'"});
}

TEST(LoaderErrorsTest, UnsupportedModelsNormalizersAndPreTokenizers) {
  TempDir dir;
  json doc = MiniTokenizerJson();
  doc["model"]["type"] = "Unigram";
  ExpectError(LoadJson(dir, doc.dump()), StatusCode::kUnimplemented,
              {"tokenizer.json", "model type 'Unigram' is not supported"});
  doc = MiniTokenizerJson();
  doc["normalizer"] = {{"type", "NFKC"}};
  ExpectError(LoadJson(dir, doc.dump()), StatusCode::kUnimplemented,
              {"tokenizer.json", "normalizer 'NFKC' is not supported"});
  doc["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "Lowercase"}}}}};
  ExpectError(LoadJson(dir, doc.dump()), StatusCode::kUnimplemented,
              {"tokenizer.json", "normalizer 'Lowercase'"});
  doc = MiniTokenizerJson();
  doc["pre_tokenizer"] = {{"type", "Whitespace"}};
  ExpectError(LoadJson(dir, doc.dump()), StatusCode::kUnimplemented,
              {"tokenizer.json", "pre-tokenizer 'Whitespace' is not supported"});
  doc["pre_tokenizer"] = nullptr;
  ExpectError(LoadJson(dir, doc.dump()), StatusCode::kUnimplemented,
              {"tokenizer.json", "no pre_tokenizer (a byte-level BPE needs one)"});
  doc["pre_tokenizer"] = {{"type", "ByteLevel"}, {"use_regex", false}};
  ExpectError(LoadJson(dir, doc.dump()), StatusCode::kUnimplemented,
              {"tokenizer.json", "no byte-level pre-tokenizer found"});
  doc["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}};
  ExpectError(LoadJson(dir, doc.dump()), StatusCode::kUnimplemented,
              {"tokenizer.json", "add_prefix_space"});
  doc = MiniTokenizerJson();
  doc["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(\\p{L}";
  ExpectError(LoadJson(dir, doc.dump()), StatusCode::kInvalidArgument,
              {"tokenizer.json", "regex does not compile at offset 6"});
}

TEST(LoaderErrorsTest, AddedTokensAndConfigProblems) {
  TempDir dir;
  json doc = MiniTokenizerJson();
  doc["added_tokens"] = json::array({{{"id", 97}, {"content", "<x>"}, {"special", true}}});
  ExpectError(LoadJson(dir, doc.dump()), StatusCode::kDataLoss,
              {"tokenizer.json", "added token '<x>' reuses id 97 of token 'a'"});
  doc["added_tokens"] = json::array({{{"id", -5}, {"content", "<x>"}}});
  ExpectError(LoadJson(dir, doc.dump()), StatusCode::kDataLoss,
              {"tokenizer.json", "added token '<x>' has an invalid id"});
  doc["added_tokens"] = json::array({{{"id", 300}}});
  ExpectError(LoadJson(dir, doc.dump()), StatusCode::kDataLoss,
              {"tokenizer.json", "added token 300 needs a string 'content'"});

  doc = MiniTokenizerJson();
  dir.WriteFile("tokenizer_config.json", R"({"eos_token": "<|nope|>"})");
  ExpectError(LoadJson(dir, doc.dump()), StatusCode::kDataLoss,
              {"tokenizer.json", "tokenizer_config.json", "eos_token '<|nope|>' is not a token"});
  dir.WriteFile("tokenizer_config.json", "[]");
  ExpectError(LoadJson(dir, doc.dump()), StatusCode::kDataLoss,
              {"tokenizer.json", "tokenizer_config.json must be a JSON object"});
  dir.WriteFile("tokenizer_config.json", "{\"eos_token\": ");
  ExpectError(LoadJson(dir, doc.dump()), StatusCode::kDataLoss, {"tokenizer_config.json"});
}

TEST(LoaderErrorsTest, MissingFilesAndFolders) {
  ExpectError(Tokenizer::Load("/nonexistent/medassist/tokenizer"), StatusCode::kNotFound,
              {"/nonexistent/medassist/tokenizer", "no such file or folder"});
  TempDir empty;
  ExpectError(Tokenizer::Load(empty.path()), StatusCode::kNotFound,
              {empty.path(), "no tokenizer.json, nor vocab.json with merges.txt"});
  empty.WriteFile("vocab.json", MiniVocabJson().dump());
  ExpectError(Tokenizer::Load(empty.path()), StatusCode::kNotFound,
              {empty.path(), "nor vocab.json with merges.txt"});
  ExpectError(Tokenizer::Load(empty.path() + "/missing.gguf"), StatusCode::kNotFound,
              {empty.path() + "/missing.gguf"});
}

TEST(LoaderErrorsTest, VocabAndMergesNeedAKnownTokenizerClass) {
  TempDir folder;
  folder.WriteFile("vocab.json", MiniVocabJson().dump());
  folder.WriteFile("merges.txt", "a a\n");
  ExpectError(Tokenizer::Load(folder.path()), StatusCode::kNotFound,
              {folder.path(), "need tokenizer_config.json beside them", "tokenizer_class",
               "Qwen2Tokenizer, GPT2Tokenizer"});
  folder.WriteFile("tokenizer_config.json", R"({"tokenizer_class": "LlamaTokenizer"})");
  ExpectError(Tokenizer::Load(folder.path()), StatusCode::kUnimplemented,
              {folder.path(), "tokenizer_class 'LlamaTokenizer'"});
  folder.WriteFile("tokenizer_config.json", kQwenConfig);
  folder.WriteFile("vocab.json", "");
  ExpectError(Tokenizer::Load(folder.path()), StatusCode::kDataLoss,
              {folder.path() + "/vocab.json", "invalid JSON"});
  folder.WriteFile("vocab.json", "[\"a\"]");
  ExpectError(Tokenizer::Load(folder.path()), StatusCode::kDataLoss,
              {folder.path() + "/vocab.json", "object of token -> id"});
}

// A GGUF with the given tokenizer keys on top of a minimal byte-level vocabulary.
struct GgufTokenizer {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<std::string> merges = {"a a"};
  bool write_model = true;
  std::string pre = "qwen2";
};

std::string WriteGguf(const TempDir& dir, const GgufTokenizer& g) {
  formats::GgufWriter w;
  w.AddString("general.architecture", "qwen2");
  if (g.write_model) w.AddString("tokenizer.ggml.model", "gpt2");
  w.AddString("tokenizer.ggml.pre", g.pre);
  w.AddStringArray("tokenizer.ggml.tokens", std::span<const std::string>(g.tokens));
  if (!g.types.empty()) {
    w.AddInt32Array("tokenizer.ggml.token_type", std::span<const int32_t>(g.types));
  }
  w.AddStringArray("tokenizer.ggml.merges", std::span<const std::string>(g.merges));
  std::string path = dir.path() + "/tokenizer.gguf";
  Status s = w.WriteToFile(path);
  CHECK(s.ok()) << s.ToString();
  return path;
}

GgufTokenizer MiniGguf() {
  GgufTokenizer g;
  for (int b = 0; b < 256; ++b) {
    g.tokens.push_back(BytesToByteLevel(std::string(1, static_cast<char>(b))));
  }
  g.tokens.push_back("aa");
  g.types.assign(g.tokens.size(), 1);
  return g;
}

TEST(LoaderErrorsTest, GgufTokenizerProblems) {
  TempDir dir;
  GgufTokenizer g = MiniGguf();
  auto ok = Tokenizer::Load(WriteGguf(dir, g));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->Encode("aaa"), (std::vector<TokenId>{256, 'a'}));

  g.write_model = false;
  std::string path = WriteGguf(dir, g);
  ExpectError(Tokenizer::Load(path), StatusCode::kNotFound, {path, "tokenizer.ggml.model"});
  g = MiniGguf();
  g.types.pop_back();
  ExpectError(Tokenizer::Load(WriteGguf(dir, g)), StatusCode::kDataLoss,
              {path, "tokenizer.ggml.token_type has 256 entries for 257 tokens"});
  g = MiniGguf();
  g.types[3] = 9;
  ExpectError(Tokenizer::Load(WriteGguf(dir, g)), StatusCode::kDataLoss,
              {path, "token 3 has unknown token type 9"});
  g = MiniGguf();
  g.merges = {"a a", "aq"};
  ExpectError(Tokenizer::Load(WriteGguf(dir, g)), StatusCode::kDataLoss,
              {path, "tokenizer.ggml.merges[1] 'aq' does not name two tokens"});
  g = MiniGguf();
  g.pre = "deepseek-coder";
  ExpectError(Tokenizer::Load(WriteGguf(dir, g)), StatusCode::kUnimplemented,
              {path, "tokenizer.ggml.pre 'deepseek-coder' is not supported"});
  std::string empty = dir.WriteFile("empty.gguf", "");
  ExpectError(Tokenizer::Load(empty), StatusCode::kDataLoss, {empty, "truncated"});
}

}  // namespace
}  // namespace medassist::tokenizer
