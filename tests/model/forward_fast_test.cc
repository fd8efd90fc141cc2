// The fast forward pass (model/forward.h) against the reference: the same stories260K output on
// every ISA, logits within float-rounding distance of the reference on a BF16 Qwen2, and its own
// batch invariance (bit for bit across batching, chunking and thread counts).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "forward_test_util.h"
#include "model/forward.h"
#include "support/test_support.h"
#include "synthetic_qwen2.h"

namespace medassist::model {
namespace {

using kernels::Isa;
using testing::MakeSequenceCache;
using testing::SyntheticQwen2;

// Runs ids through forward in one call (all logits) on a fresh cache.
std::vector<float> RunFast(const Model& model, Forward& forward, const std::vector<int32_t>& ids,
                           int32_t chunk = 0, KvType kv_type = KvType::kF32) {
  testing::SequenceCache cache =
      MakeSequenceCache(model, static_cast<int32_t>(ids.size()), kDefaultKvBlockSize, kv_type);
  const int64_t vocab = model.config().vocab_size;
  std::vector<float> all;
  const int32_t n = static_cast<int32_t>(ids.size());
  const int32_t step = chunk > 0 ? chunk : n;
  for (int32_t start = 0; start < n; start += step) {
    const int32_t end = std::min(n, start + step);
    Batch batch;
    batch.block_tables = {cache.block_table};
    for (int32_t i = start; i < end; ++i) batch.rows.push_back({0, ids[i], i, true});
    std::vector<float> logits(static_cast<size_t>((end - start) * vocab));
    const Status s = forward.Run(batch, cache.kv, logits);
    EXPECT_TRUE(s.ok()) << s.ToString();
    all.insert(all.end(), logits.begin(), logits.end());
  }
  return all;
}

std::vector<Isa> SupportedIsas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (kernels::IsaSupported(isa)) out.push_back(isa);
  }
  return out;
}

std::vector<int32_t> Tokens(int32_t n, int32_t seed, int32_t vocab) {
  std::vector<int32_t> ids;
  for (int32_t i = 0; i < n; ++i) ids.push_back((seed * 131 + i * 197) % vocab);
  return ids;
}

float MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

TEST(FastForward, StoriesGreedyStoryOnEveryIsa) {
  const std::string dir = medassist::testing::SharedDataPath("tiny-models/stories260K/");
  const nlohmann::json ref = nlohmann::json::parse(
      medassist::testing::ReadFileOrFail(dir + "stories260K_reference.json"))["bos_greedy_200"];
  const auto want = ref["generated_ids"].get<std::vector<int32_t>>();
  Result<Model> model = Model::Open(dir + "stories260K.gguf");
  ASSERT_TRUE(model.ok());
  ThreadPool pool(2);
  for (Isa isa : SupportedIsas()) {
    Forward forward(*model, pool, {.isa = isa});
    // Greedy decoding one token at a time through the fast path.
    testing::SequenceCache cache = MakeSequenceCache(*model, 201);
    std::vector<int32_t> got;
    int32_t token = 1;
    std::vector<float> logits(512);
    for (int32_t pos = 0; pos < 200; ++pos) {
      Batch batch{{{0, token, pos, true}}, {cache.block_table}};
      ASSERT_TRUE(forward.Run(batch, cache.kv, logits).ok());
      token = testing::Argmax(logits.data(), 512);
      got.push_back(token);
    }
    EXPECT_EQ(got, want) << kernels::IsaName(isa);
  }
}

TEST(FastForward, Bf16Qwen2LogitsMatchReference) {
  const Model& model = SyntheticQwen2();
  const std::vector<int32_t> ids = Tokens(40, 1, 1024);
  testing::SequenceCache cache = MakeSequenceCache(model, 40);
  const std::vector<float> want = testing::Prefill(model, cache, ids, 0, true);
  float max_logit = 0;
  for (float v : want) max_logit = std::max(max_logit, std::abs(v));
  ThreadPool pool(2);
  for (Isa isa : SupportedIsas()) {
    Forward forward(model, pool, {.isa = isa});
    const std::vector<float> got = RunFast(model, forward, ids);
    // Only the summation order differs: relative error at float rounding scale.
    EXPECT_LT(MaxAbsDiff(got, want), 1e-5f * std::max(1.0f, max_logit)) << kernels::IsaName(isa);
  }
}

TEST(FastForward, BitIdenticalAcrossChunkingAndThreads) {
  const Model& model = SyntheticQwen2();
  const std::vector<int32_t> ids = Tokens(45, 2, 1024);
  ThreadPool one(1), two(2);
  Forward forward1(model, one), forward2(model, two);
  const std::vector<float> whole = RunFast(model, forward1, ids);
  for (int32_t chunk : {1, 7, 16}) {
    const std::vector<float> chunked = RunFast(model, forward2, ids, chunk);
    ASSERT_EQ(chunked.size(), whole.size());
    EXPECT_EQ(std::memcmp(chunked.data(), whole.data(), whole.size() * sizeof(float)), 0)
        << "chunk " << chunk;
  }
}

TEST(FastForward, MixedBatchEqualsSeparateRuns) {
  const Model& model = SyntheticQwen2();
  const int64_t vocab = model.config().vocab_size;
  const std::vector<int32_t> a = Tokens(20, 4, 1024), b = Tokens(9, 5, 1024);
  ThreadPool pool(2);
  Forward forward(model, pool);
  const std::vector<float> want_a = RunFast(model, forward, a);
  const std::vector<float> want_b = RunFast(model, forward, b);

  Result<KvCache> kv = KvCache::Create(KvCacheShape::ForModel(model.config(), 4));
  ASSERT_TRUE(kv.ok());
  Batch batch;
  batch.block_tables = {{3, 0}, {2}};
  for (int32_t i = 0; i < 8; ++i) batch.rows.push_back({1, b[i], i, true});
  for (int32_t i = 0; i < 20; ++i) batch.rows.push_back({0, a[i], i, true});
  std::vector<float> got(static_cast<size_t>(28 * vocab));
  ASSERT_TRUE(forward.Run(batch, *kv, got).ok());
  batch.rows = {{1, b[8], 8, true}};
  std::vector<float> last(static_cast<size_t>(vocab));
  ASSERT_TRUE(forward.Run(batch, *kv, last).ok());

  EXPECT_EQ(std::memcmp(got.data(), want_b.data(), 8 * vocab * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(got.data() + 8 * vocab, want_a.data(), 20 * vocab * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(last.data(), want_b.data() + 8 * vocab, vocab * sizeof(float)), 0);
}

// An F16 KV cache: on every ISA the fast path stays within rounding distance of the reference
// reading the same F16 cache, keeps its batch invariance (chunking), and moves the logits only by
// F16's rounding of keys and values relative to an F32 cache.
TEST(FastForward, F16CacheAgreesWithReferenceAndStaysBatchInvariant) {
  const Model& model = SyntheticQwen2();
  const int64_t vocab = model.config().vocab_size;
  const std::vector<int32_t> ids = Tokens(40, 9, 1024);
  testing::SequenceCache ref_cache =
      MakeSequenceCache(model, 40, kDefaultKvBlockSize, KvType::kF16);
  Batch batch;
  batch.block_tables = {ref_cache.block_table};
  for (int32_t i = 0; i < 40; ++i) batch.rows.push_back({0, ids[i], i, true});
  std::vector<float> reference(static_cast<size_t>(40 * vocab));
  ASSERT_TRUE(ForwardReference(model, batch, ref_cache.kv, reference).ok());
  float scale = 1.0f;
  for (float v : reference) scale = std::max(scale, std::abs(v));
  for (Isa isa : SupportedIsas()) {
    ThreadPool pool(2);
    Forward forward(model, pool, {.isa = isa});
    const std::vector<float> f16 = RunFast(model, forward, ids, 0, KvType::kF16);
    // Only the summation order differs: relative error at float rounding scale.
    EXPECT_LT(MaxAbsDiff(f16, reference), 1e-5f * scale) << kernels::IsaName(isa);
    const std::vector<float> chunked = RunFast(model, forward, ids, 7, KvType::kF16);
    EXPECT_EQ(std::memcmp(chunked.data(), f16.data(), f16.size() * sizeof(float)), 0)
        << kernels::IsaName(isa);
    const std::vector<float> f32 = RunFast(model, forward, ids);
    const float moved = MaxAbsDiff(f16, f32);
    EXPECT_GT(moved, 0.0f) << "the F16 cache must round something";
    EXPECT_LT(moved, 2e-2f * scale) << kernels::IsaName(isa);
  }
}

}  // namespace
}  // namespace medassist::model
