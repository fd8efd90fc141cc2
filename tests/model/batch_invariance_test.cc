// DESIGN §2b on the reference path: a sequence's logits are bit-identical whether it runs alone, in
// a batch with other sequences, with its prompt in one call or in chunks, and whether a position is
// reached by prefill or by step-by-step decode. Synthetic Qwen2 (biases, GQA, theta 1e6, tied
// head).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "forward_test_util.h"
#include "synthetic_qwen2.h"

namespace medassist::model {
namespace {

using testing::MakeSequenceCache;
using testing::Prefill;
using testing::SyntheticQwen2;

std::vector<int32_t> Tokens(int32_t n, int32_t seed) {
  std::vector<int32_t> ids;
  for (int32_t i = 0; i < n; ++i) ids.push_back((seed * 131 + i * 197) % 1024);
  return ids;
}

// Logits rows [row, row + n) of a (rows x vocab) buffer.
std::vector<float> Rows(const std::vector<float>& logits, int64_t row, int64_t n) {
  const int64_t vocab = SyntheticQwen2().config().vocab_size;
  return {logits.begin() + row * vocab, logits.begin() + (row + n) * vocab};
}

bool BitEqual(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(BatchInvariance, LogitsAreFiniteAndVaried) {
  const Model& model = SyntheticQwen2();
  ASSERT_TRUE(model.weights().layers[0].bq.present());
  testing::SequenceCache cache = MakeSequenceCache(model, 8);
  const std::vector<float> logits = Prefill(model, cache, Tokens(8, 1), 0, false);
  float lo = logits[0], hi = logits[0];
  for (float v : logits) {
    ASSERT_TRUE(std::isfinite(v));
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  EXPECT_GT(hi - lo, 0.1f);  // a dead network (all logits equal) would make the tests vacuous
}

TEST(BatchInvariance, PrefillEqualsStepByStepDecode) {
  const Model& model = SyntheticQwen2();
  const std::vector<int32_t> ids = Tokens(37, 2);  // crosses two 16-position blocks
  testing::SequenceCache whole = MakeSequenceCache(model, 37);
  const std::vector<float> prefill = Prefill(model, whole, ids, 0, /*all_logits=*/true);
  testing::SequenceCache steps = MakeSequenceCache(model, 37);
  for (int32_t pos = 0; pos < 37; ++pos) {
    const std::vector<float> step = Prefill(model, steps, {ids[pos]}, pos, false);
    ASSERT_TRUE(BitEqual(step, Rows(prefill, pos, 1))) << "position " << pos;
  }
}

TEST(BatchInvariance, ChunkedPromptEqualsWholePrompt) {
  const Model& model = SyntheticQwen2();
  const std::vector<int32_t> ids = Tokens(40, 3);
  testing::SequenceCache whole = MakeSequenceCache(model, 40);
  const std::vector<float> all = Prefill(model, whole, ids, 0, true);
  testing::SequenceCache chunked = MakeSequenceCache(model, 40);
  int32_t start = 0;
  for (int32_t size : {7, 16, 1, 16}) {
    const std::vector<int32_t> chunk(ids.begin() + start, ids.begin() + start + size);
    const std::vector<float> got = Prefill(model, chunked, chunk, start, true);
    ASSERT_TRUE(BitEqual(got, Rows(all, start, size))) << "chunk at " << start;
    start += size;
  }
}

// One call mixing a prompt chunk of A with a decode token of B equals the separate runs, with the
// two sequences' blocks interleaved in a shared cache.
TEST(BatchInvariance, MixedBatchEqualsSeparateRuns) {
  const Model& model = SyntheticQwen2();
  const int64_t vocab = model.config().vocab_size;
  const std::vector<int32_t> a = Tokens(30, 4);
  const std::vector<int32_t> b = Tokens(9, 5);

  testing::SequenceCache alone_a = MakeSequenceCache(model, 30);
  const std::vector<float> want_a = Prefill(model, alone_a, a, 0, true);
  testing::SequenceCache alone_b = MakeSequenceCache(model, 9);
  Prefill(model, alone_b, {b.begin(), b.end() - 1}, 0, false);
  const std::vector<float> want_b = Prefill(model, alone_b, {b.back()}, 8, false);

  Result<KvCache> kv = KvCache::Create(KvCacheShape::ForModel(model.config(), 6));
  ASSERT_TRUE(kv.ok());
  Batch batch;
  batch.block_tables = {{4, 1}, {3}};  // A in blocks 4 and 1, B in block 3
  // Call 1: A's first 12 tokens and B's prompt (all but its last token).
  for (int32_t i = 0; i < 12; ++i) batch.rows.push_back({0, a[i], i, true});
  for (int32_t i = 0; i < 8; ++i) batch.rows.push_back({1, b[i], i, false});
  std::vector<float> got1(static_cast<size_t>(12 * vocab));
  ASSERT_TRUE(ForwardReference(model, batch, *kv, got1).ok());
  EXPECT_TRUE(BitEqual(got1, Rows(want_a, 0, 12)));

  // Call 2: B's decode token first, then A's remaining 18 tokens as one chunk.
  batch.rows = {{1, b[8], 8, true}};
  for (int32_t i = 12; i < 30; ++i) batch.rows.push_back({0, a[i], i, true});
  std::vector<float> got2(static_cast<size_t>(19 * vocab));
  ASSERT_TRUE(ForwardReference(model, batch, *kv, got2).ok());
  EXPECT_TRUE(BitEqual(Rows(got2, 0, 1), want_b));
  EXPECT_TRUE(BitEqual(Rows(got2, 1, 18), Rows(want_a, 12, 18)));
}

}  // namespace
}  // namespace medassist::model
