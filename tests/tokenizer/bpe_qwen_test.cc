// BpeModel built from the real Qwen2.5 vocabulary and its 151,387 merges: EncodePiece, the naive
// loop and the heap loop agree with each other on random byte strings and long runs, and with the
// independent string-based reference on a sample.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "bpe_reference.h"
#include "qwen_fixture.h"
#include "support/test_support.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/loaders.h"

namespace medassist::tokenizer {
namespace {

using medassist::testing::ReadFileOrFail;

// The spec's BPE tokens as raw bytes (added tokens left empty) and the model built on them.
struct QwenBpe {
  TokenizerSpec spec;
  std::vector<std::string> token_bytes;
  std::optional<BpeModel> model;
};

const QwenBpe& Qwen() {
  static const QwenBpe* q = [] {
    auto* out = new QwenBpe;
    std::string dir = testing::QwenDir();
    auto spec = SpecFromVocabAndMerges(ReadFileOrFail(dir + "/vocab.json"),
                                       ReadFileOrFail(dir + "/merges.txt"),
                                       ReadFileOrFail(dir + "/tokenizer_config.json"), dir);
    CHECK(spec.ok()) << spec.status().ToString();
    out->spec = std::move(spec).value();
    out->token_bytes.resize(out->spec.pieces.size());
    for (size_t id = 0; id < out->spec.pieces.size(); ++id) {
      if (out->spec.kinds[id] != TokenKind::kNormal) continue;
      std::optional<std::string> raw = ByteLevelToBytes(out->spec.pieces[id]);
      CHECK(raw.has_value()) << out->spec.pieces[id];
      out->token_bytes[id] = std::move(*raw);
    }
    auto model = BpeModel::Build(out->token_bytes, out->spec.merges);
    CHECK(model.ok()) << model.status().ToString();
    out->model.emplace(std::move(model).value());
    return out;
  }();
  return *q;
}

std::vector<std::string> Bytes(const std::vector<TokenId>& ids) {
  std::vector<std::string> out;
  for (TokenId id : ids) out.push_back(Qwen().token_bytes.at(static_cast<size_t>(id)));
  return out;
}

// Runs the three loops on piece, expects them equal, and returns the tokens' bytes.
std::vector<std::string> EncodeAllWays(std::string_view piece) {
  const BpeModel& m = *Qwen().model;
  std::vector<TokenId> encoded, naive, heap, by_rank;
  m.EncodePiece(piece, encoded);
  m.MergeNaive(piece, naive);
  m.MergeWithHeap(piece, heap);
  m.MergeByRank(piece, by_rank);
  EXPECT_EQ(naive, heap) << ::testing::PrintToString(std::string(piece));
  EXPECT_EQ(by_rank, heap) << ::testing::PrintToString(std::string(piece));
  EXPECT_EQ(encoded, heap) << ::testing::PrintToString(std::string(piece));
  std::vector<std::string> bytes = Bytes(heap);
  std::string joined;
  for (const std::string& b : bytes) joined += b;
  EXPECT_EQ(joined, piece);
  return bytes;
}

// Random pieces from the byte values real text uses (ASCII letters, space, UTF-8 lead and
// continuation bytes of Latin, CJK and emoji) plus any byte.
std::string RandomPiece(std::mt19937& rng, size_t n) {
  static const std::string kPool =
      "eeeetttaaoinshrdlu   \n\xC3\xA9\xE4\xB8\xAD\xE6\x96\x87\xF0\x9F\x98\x80.,'0123";
  std::string s(n, ' ');
  for (char& c : s) c = rng() % 5 == 0 ? static_cast<char>(rng()) : kPool[rng() % kPool.size()];
  return s;
}

TEST(BpeQwenTest, ModelMatchesTheVocabulary) {
  EXPECT_EQ(Qwen().model->num_merges(), 151387u);
  EXPECT_EQ(Qwen().spec.pieces.size(), 151665u);
}

TEST(BpeQwenTest, LoopsAgreeOnRandomBytes) {
  std::mt19937 rng(42);
  for (int iter = 0; iter < 3000; ++iter) {
    EncodeAllWays(RandomPiece(rng, 1 + rng() % 200));
    if (HasFailure()) return;
  }
}

TEST(BpeQwenTest, LoopsAgreeWithTheStringReference) {
  testing::ReferenceBpe reference(Qwen().token_bytes, Qwen().spec.merges);
  std::mt19937 rng(43);
  for (int iter = 0; iter < 300; ++iter) {
    std::string piece = RandomPiece(rng, 1 + rng() % 120);
    ASSERT_EQ(EncodeAllWays(piece), reference.Encode(piece)) << ::testing::PrintToString(piece);
  }
  // Real words take the whole-token shortcut; the shortcut must say what the merges say.
  for (const char* word : {"hello", " world", " hypertension", " myocardial", "ing", " the",
                           "\xE4\xB8\xAD\xE6\x96\x87", " antibiotics", "1234"}) {
    EXPECT_EQ(EncodeAllWays(word), reference.Encode(word)) << word;
  }
}

TEST(BpeQwenTest, EveryVocabularyTokenAgreesWithNaive) {
  // Each token's own bytes: EncodePiece (whole-token shortcut, decided and cached on first use)
  // must equal the merge loop, twice (the second time from the cache).
  const QwenBpe& q = Qwen();
  int single = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t id = 0; id < q.token_bytes.size(); ++id) {
      const std::string& piece = q.token_bytes[id];
      if (piece.empty()) continue;
      std::vector<TokenId> encoded, naive;
      q.model->EncodePiece(piece, encoded);
      q.model->MergeNaive(piece, naive);
      ASSERT_EQ(encoded, naive) << "token " << id;
      single += pass == 0 && naive.size() == 1;
    }
  }
  EXPECT_GT(single, 150000);  // nearly every token is its own encoding
}

TEST(BpeQwenTest, LongRunsOfOneByte) {
  for (char c : {'a', ' ', '\n', '-', '\xFF'}) {
    std::string run(10000, c);
    std::vector<std::string> bytes = EncodeAllWays(run);
    if (c != '\xFF') {
      EXPECT_LT(bytes.size(), 10000u / 4) << int{c} << ": runs merge into long tokens";
    }
  }
}

}  // namespace
}  // namespace medassist::tokenizer
