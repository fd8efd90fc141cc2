// Helpers for the forward-pass tests: running whole sequences through ForwardReference with a KV
// cache of their own, and greedy decoding.
#pragma once

#include <cstdint>
#include <vector>

#include "model/forward_reference.h"

namespace medassist::model::testing {

// A KV cache with room for n_positions of one sequence, and its block table (blocks 0..n-1).
struct SequenceCache {
  KvCache kv;
  std::vector<int32_t> block_table;
};
SequenceCache MakeSequenceCache(const Model& model, int32_t n_positions, int32_t block_size = 16,
                                KvType kv_type = KvType::kF32);

// Runs ids at positions start..start+n-1 of sequence 0 in one call; logits for every row
// (n x vocab) when all_logits, else for the last row only.
std::vector<float> Prefill(const Model& model, SequenceCache& cache,
                           const std::vector<int32_t>& ids, int32_t start, bool all_logits);

// Index of the largest value, the lowest index on ties.
int32_t Argmax(const float* values, int64_t n);

// Greedy decoding: prompt in one call, then n_new single-row steps. Returns the new ids.
std::vector<int32_t> GreedyDecode(const Model& model, const std::vector<int32_t>& prompt,
                                  int32_t n_new);

}  // namespace medassist::model::testing
