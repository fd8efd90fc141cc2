#include "forward_test_util.h"

#include <gtest/gtest.h>

namespace medassist::model::testing {

SequenceCache MakeSequenceCache(const Model& model, int32_t n_positions, int32_t block_size,
                                KvType kv_type) {
  const int32_t n_blocks = (n_positions + block_size - 1) / block_size;
  Result<KvCache> kv =
      KvCache::Create(KvCacheShape::ForModel(model.config(), n_blocks, block_size, kv_type));
  CHECK(kv.ok()) << kv.status().ToString();
  SequenceCache cache{std::move(kv.value()), {}};
  for (int32_t b = 0; b < n_blocks; ++b) cache.block_table.push_back(b);
  return cache;
}

std::vector<float> Prefill(const Model& model, SequenceCache& cache,
                           const std::vector<int32_t>& ids, int32_t start, bool all_logits) {
  Batch batch;
  batch.block_tables = {cache.block_table};
  for (size_t i = 0; i < ids.size(); ++i) {
    const bool logits = all_logits || i + 1 == ids.size();
    batch.rows.push_back({0, ids[i], start + static_cast<int32_t>(i), logits});
  }
  std::vector<float> logits(static_cast<size_t>(batch.n_logit_rows() * model.config().vocab_size));
  const Status status = ForwardReference(model, batch, cache.kv, logits);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return logits;
}

int32_t Argmax(const float* values, int64_t n) {
  int32_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (values[i] > values[best]) best = static_cast<int32_t>(i);
  }
  return best;
}

std::vector<int32_t> GreedyDecode(const Model& model, const std::vector<int32_t>& prompt,
                                  int32_t n_new) {
  const int64_t vocab = model.config().vocab_size;
  SequenceCache cache = MakeSequenceCache(model, static_cast<int32_t>(prompt.size()) + n_new);
  std::vector<float> logits = Prefill(model, cache, prompt, 0, /*all_logits=*/false);
  std::vector<int32_t> out;
  int32_t pos = static_cast<int32_t>(prompt.size());
  while (static_cast<int32_t>(out.size()) < n_new) {
    out.push_back(Argmax(logits.data(), vocab));
    if (static_cast<int32_t>(out.size()) == n_new) break;
    logits = Prefill(model, cache, {out.back()}, pos++, false);
  }
  return out;
}

}  // namespace medassist::model::testing
