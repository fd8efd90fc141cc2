// The hand-written Qwen2 pre-tokenizer against PCRE2 on real text: the Hugging Face oracle cases,
// llama.cpp's Qwen2 vectors and 594 medical documents (question, reasoning, answer). Also checked
// against Hugging Face itself: BPE never merges across pieces, so every piece boundary must be a
// token boundary of the oracle's tokens.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <vector>

#include "qwen_fixture.h"
#include "support/test_support.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"

namespace medassist::tokenizer {
namespace {

using medassist::testing::ReadFileOrFail;
using medassist::testing::SharedDataPath;
using nlohmann::json;
using testing::SplitVectors;
using Pieces = std::vector<std::string_view>;

const PreTokenizer& Qwen2() {
  static const PreTokenizer p = std::move(PreTokenizer::FromPattern(kQwen2Pattern)).value();
  return p;
}

// Fast pieces == PCRE2 pieces, no empty piece, and they cover the text exactly.
void ExpectSameSplit(std::string_view text, const std::string& what) {
  Pieces fast, regex;
  Qwen2().Split(text, fast);
  Qwen2().SplitWithRegex(text, regex);
  ASSERT_EQ(std::vector<std::string>(fast.begin(), fast.end()),
            std::vector<std::string>(regex.begin(), regex.end()))
      << what;
  size_t covered = 0;
  for (std::string_view p : fast) {
    ASSERT_FALSE(p.empty()) << what;
    ASSERT_EQ(p.data(), text.data() + covered) << what;
    covered += p.size();
  }
  ASSERT_EQ(covered, text.size()) << what;
}

TEST(PreTokenizerGoldenTest, HuggingFaceOracleTexts) {
  json vectors =
      json::parse(ReadFileOrFail(testing::QwenDir() + "/qwen2_5_tokenizer_test_vectors.json"));
  ASSERT_EQ(vectors["cases"].size(), 30u);
  int checked_boundaries = 0;
  for (const json& c : vectors["cases"]) {
    std::string text = c["text"];
    ExpectSameSplit(text, text);
    bool has_special = false;
    for (const auto& [content, id] : vectors["special_tokens"].items()) {
      has_special |= text.find(content) != std::string::npos;
    }
    if (has_special) continue;  // special tokens are split out before pre-tokenization
    std::string normalized;
    std::string_view body = NormalizeNfc(text, normalized) ? normalized : text;
    std::set<size_t> token_ends;
    size_t end = 0;
    for (const std::string& token : c["tokens"].get<std::vector<std::string>>()) {
      std::optional<std::string> bytes = ByteLevelToBytes(token);
      ASSERT_TRUE(bytes.has_value()) << token;
      end += bytes->size();
      token_ends.insert(end);
    }
    ASSERT_EQ(end, body.size()) << text;
    Pieces pieces;
    Qwen2().Split(body, pieces);
    size_t piece_end = 0;
    for (std::string_view p : pieces) {
      piece_end += p.size();
      EXPECT_TRUE(token_ends.count(piece_end)) << "piece '" << p << "' of '" << text << "'";
      ++checked_boundaries;
    }
  }
  EXPECT_GT(checked_boundaries, 200);
}

TEST(PreTokenizerGoldenTest, LlamaCppVectors) {
  std::string inputs_text =
      ReadFileOrFail(testing::QwenDir() + "/llama.cpp-test-vectors/ggml-vocab-qwen2.gguf.inp");
  std::vector<std::string> inputs = SplitVectors(inputs_text, "\n__ggml_vocab_test__\n");
  ASSERT_EQ(inputs.size(), 46u);
  for (size_t i = 0; i < inputs.size(); ++i) {
    ExpectSameSplit(inputs[i], "case " + std::to_string(i));
  }
}

TEST(PreTokenizerGoldenTest, MedicalDocuments) {
  std::string jsonl =
      ReadFileOrFail(SharedDataPath("medical-o1-sft/huatuogpt-o1_demo_sft_198.jsonl"));
  int documents = 0;
  size_t bytes = 0;
  for (const std::string& line : SplitVectors(jsonl + "\n", "\n")) {
    if (line.empty()) continue;
    json row = json::parse(line);
    for (const char* field : {"Question", "Complex_CoT", "Response"}) {
      std::string text = row.at(field).get<std::string>();
      ExpectSameSplit(text, std::string(field) + " of row " + std::to_string(documents / 3));
      bytes += text.size();
      ++documents;
    }
  }
  EXPECT_EQ(documents, 594);
  EXPECT_GT(bytes, 500000u);
}

}  // namespace
}  // namespace medassist::tokenizer
