// BpeModel on small hand-made vocabularies: known answers (rank order, leftmost on ties, tokens the
// merges cannot reach), the three merge loops against each other and against an independent
// string-based reference on random vocabularies, long runs, and Build's refusals.
#include "tokenizer/bpe.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "bpe_reference.h"

namespace medassist::tokenizer {
namespace {

using Strings = std::vector<std::string>;

// The 256 single bytes (id = byte value) and, from id 256 on, the tokens added.
class MiniVocab {
 public:
  MiniVocab() {
    for (int b = 0; b < 256; ++b) tokens_.push_back(std::string(1, static_cast<char>(b)));
  }
  TokenId Id(std::string_view s) const {
    for (size_t i = 0; i < tokens_.size(); ++i) {
      if (tokens_[i] == s) return static_cast<TokenId>(i);
    }
    return -1;
  }
  TokenId AddToken(const std::string& s) {
    TokenId id = Id(s);
    if (id >= 0) return id;
    tokens_.push_back(s);
    return static_cast<TokenId>(tokens_.size() - 1);
  }
  // Adds left + right as a token if needed and the merge as the next rank.
  void AddMerge(const std::string& left, const std::string& right) {
    AddToken(left + right);
    merges_.push_back({Id(left), Id(right)});
  }
  BpeModel Build() const {
    auto m = BpeModel::Build(tokens_, merges_);
    CHECK(m.ok()) << m.status().ToString();
    return std::move(m).value();
  }
  Strings Bytes(const std::vector<TokenId>& ids) const {
    Strings out;
    for (TokenId id : ids) out.push_back(id >= 0 ? tokens_[id] : "<invalid>");
    return out;
  }
  std::vector<std::string>& tokens() { return tokens_; }
  std::vector<Merge>& merges() { return merges_; }

 private:
  std::vector<std::string> tokens_;
  std::vector<Merge> merges_;
};

enum class Loop { kEncodePiece, kNaive, kHeap, kByRank };

std::vector<TokenId> RunLoop(const BpeModel& m, Loop loop, std::string_view piece) {
  std::vector<TokenId> out = {-7};  // the loops append; the sentinel must survive
  switch (loop) {
    case Loop::kEncodePiece:
      m.EncodePiece(piece, out);
      break;
    case Loop::kNaive:
      m.MergeNaive(piece, out);
      break;
    case Loop::kHeap:
      m.MergeWithHeap(piece, out);
      break;
    case Loop::kByRank:
      if (m.merges_are_rank_ordered()) {
        m.MergeByRank(piece, out);
      } else {
        m.MergeWithHeap(piece, out);  // MergeByRank is not valid for this merge list
      }
      break;
  }
  CHECK(!out.empty() && out[0] == -7);
  out.erase(out.begin());
  return out;
}

// Every loop gives the expected token strings (twice, so the whole-token cache is used).
void ExpectAll(const MiniVocab& v, const BpeModel& m, std::string_view piece,
               const Strings& expected) {
  for (int pass = 0; pass < 2; ++pass) {
    for (Loop loop : {Loop::kEncodePiece, Loop::kNaive, Loop::kHeap, Loop::kByRank}) {
      EXPECT_EQ(v.Bytes(RunLoop(m, loop, piece)), expected)
          << "piece '" << piece << "' loop " << static_cast<int>(loop);
    }
  }
}

TEST(BpeTest, KnownAnswers) {
  MiniVocab v;
  v.AddMerge("a", "a");
  BpeModel m = v.Build();
  ExpectAll(v, m, "a", {"a"});
  ExpectAll(v, m, "aa", {"aa"});
  ExpectAll(v, m, "aaa", {"aa", "a"});  // leftmost pair first on a tie
  ExpectAll(v, m, "aaaa", {"aa", "aa"});
  ExpectAll(v, m, "baaab", {"b", "aa", "a", "b"});
  ExpectAll(v, m, "", {});
  ExpectAll(v, m, std::string_view(), {});
}

TEST(BpeTest, LowerRankMergesFirst) {
  MiniVocab ab_first;
  ab_first.AddMerge("a", "b");
  ab_first.AddMerge("b", "c");
  ExpectAll(ab_first, ab_first.Build(), "abc", {"ab", "c"});
  MiniVocab bc_first;
  bc_first.AddMerge("b", "c");
  bc_first.AddMerge("a", "b");
  ExpectAll(bc_first, bc_first.Build(), "abc", {"a", "bc"});
  ExpectAll(bc_first, bc_first.Build(), "abcab", {"a", "bc", "ab"});
}

TEST(BpeTest, MergedSymbolsMergeAgainInRankOrder) {
  MiniVocab v;
  v.AddMerge("a", "a");    // rank 0
  v.AddMerge("aa", "a");   // rank 1
  v.AddMerge("aa", "aa");  // rank 2
  BpeModel m = v.Build();
  // aaaaa -> aa aa a (rank 0 twice, leftmost) -> aa aaa (rank 1 beats rank 2).
  ExpectAll(v, m, "aaaaa", {"aa", "aaa"});
  ExpectAll(v, m, "aaaa", {"aaaa"});
  ExpectAll(v, m, "aaa", {"aaa"});
}

TEST(BpeTest, WholeTokenShortcutOnlyWhenTheMergesFormTheToken) {
  MiniVocab v;
  v.AddToken("abc");  // in the vocabulary, but no merge makes it
  v.AddMerge("a", "b");
  v.AddMerge("b", "c");
  v.AddMerge("bc", "d");
  v.AddToken("abcd");  // also unreachable: a+b fires before b+c
  BpeModel m = v.Build();
  ExpectAll(v, m, "abc", {"ab", "c"});
  ExpectAll(v, m, "abcd", {"ab", "c", "d"});
  ExpectAll(v, m, "bcd", {"bcd"});
  // "abc" is made by a merge (ab + c), but in the piece "abc" b + c fires first.
  MiniVocab w;
  w.AddMerge("b", "c");
  w.AddMerge("a", "b");
  w.AddMerge("ab", "c");
  BpeModel n = w.Build();
  ExpectAll(w, n, "abc", {"a", "bc"});
  ExpectAll(w, n, "ab", {"ab"});
}

TEST(BpeTest, RepeatedMergeKeepsItsFirstRank) {
  MiniVocab v;
  v.AddMerge("a", "b");
  v.AddMerge("b", "c");
  v.AddMerge("a", "b");  // a later copy must not demote a+b below b+c
  BpeModel m = v.Build();
  EXPECT_EQ(m.num_merges(), 2u);  // distinct pairs
  ExpectAll(v, m, "abc", {"ab", "c"});
}

TEST(BpeTest, LongRunsMergeInBoundedTime) {
  MiniVocab v;
  v.AddMerge("a", "a");
  v.AddMerge("aa", "aa");
  v.AddMerge("aaaa", "aaaa");
  v.AddMerge(" ", " ");
  BpeModel m = v.Build();
  for (size_t n : {10000u, 10001u, 10003u}) {
    Strings expected(n / 8, "aaaaaaaa");
    if (n % 8 >= 2) expected.push_back("aa");
    if (n % 2 == 1) expected.push_back("a");
    std::string run(n, 'a');
    for (Loop loop : {Loop::kEncodePiece, Loop::kNaive, Loop::kHeap, Loop::kByRank}) {
      EXPECT_EQ(v.Bytes(RunLoop(m, loop, run)), expected) << n << " " << static_cast<int>(loop);
    }
  }
  std::string spaces(10000, ' ');
  for (Loop loop : {Loop::kEncodePiece, Loop::kNaive, Loop::kHeap}) {
    EXPECT_EQ(v.Bytes(RunLoop(m, loop, spaces)), Strings(5000, "  "));
  }
}

// Random vocabularies over a three-letter alphabet: many overlapping merges, ties everywhere,
// unreachable tokens. All loops agree with the string-based reference.
TEST(BpeTest, LoopsAgreeWithReferenceOnRandomVocabularies) {
  std::mt19937 rng(31337);
  for (int vocab_round = 0; vocab_round < 10; ++vocab_round) {
    MiniVocab v;
    Strings made = {"a", "b", "c"};
    for (int i = 0; i < 60; ++i) {
      const std::string& l = made[rng() % made.size()];
      const std::string& r = made[rng() % made.size()];
      std::string joined = l + r;
      if (joined.size() > 10) continue;
      if (rng() % 8 == 0) {
        v.AddToken(joined);  // a token with no merge
      } else {
        v.AddMerge(l, r);
      }
      made.push_back(joined);
    }
    BpeModel m = v.Build();
    testing::ReferenceBpe reference(v.tokens(), v.merges());
    for (int iter = 0; iter < 150; ++iter) {
      std::string piece(1 + rng() % 200, 'a');
      for (char& ch : piece) ch = "abcx"[rng() % (iter % 2 == 0 ? 3 : 4)];
      Strings expected = reference.Encode(piece);
      for (Loop loop : {Loop::kEncodePiece, Loop::kNaive, Loop::kHeap, Loop::kByRank}) {
        ASSERT_EQ(v.Bytes(RunLoop(m, loop, piece)), expected)
            << "vocab " << vocab_round << " piece " << piece << " loop " << static_cast<int>(loop);
      }
    }
  }
}

TEST(BpeBuildTest, MissingByteTokenNamesTheByte) {
  MiniVocab v;
  v.tokens()[0x41].clear();  // no token for 'A'
  auto m = BpeModel::Build(v.tokens(), v.merges());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(m.status().message().find("no token for byte 0x41"), std::string::npos)
      << m.status().message();
  v.tokens()[0x41] = "A";
  v.tokens()[0xFF] = "\xC3\xBF";  // the byte-level text instead of the raw byte
  m = BpeModel::Build(v.tokens(), v.merges());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("byte 0xFF"), std::string::npos) << m.status().message();
}

TEST(BpeBuildTest, MergeMustFormAToken) {
  MiniVocab v;
  v.AddMerge("a", "b");
  v.merges().push_back({v.Id("b"), v.Id("c")});  // "bc" is not in the vocabulary
  auto m = BpeModel::Build(v.tokens(), v.merges());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(m.status().message(), "merge 2 (tokens 98 + 99) forms a string that is not a token");
}

TEST(BpeBuildTest, MergeMustNameBpeTokens) {
  MiniVocab v;
  TokenId added = v.AddToken("<|special|>");
  v.tokens()[added].clear();  // added tokens have no BPE bytes
  v.merges().push_back({v.Id("a"), added});
  auto m = BpeModel::Build(v.tokens(), v.merges());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(m.status().message(), "merge 1 names token 256, which is not a BPE token");
}

}  // namespace
}  // namespace medassist::tokenizer
