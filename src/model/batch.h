// One forward step's input (DESIGN §2): rows of (sequence, token, position) for several sequences
// at once. Prompt chunks and single decode tokens mix freely; each sequence brings its KV block
// table; logits are computed only for rows that ask for them.
//
// Contract: a sequence's rows in one batch have consecutive increasing positions, and every
// position before its first row was written to its blocks by earlier calls. Row i at position p
// attends to positions 0..p of its own sequence.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"

namespace medassist::model {

struct BatchRow {
  int32_t seq = 0;    // index into Batch::block_tables
  int32_t token = 0;  // token id
  int32_t pos = 0;    // position in its sequence, from 0
  bool logits = false;
};

struct Batch {
  std::vector<BatchRow> rows;
  // Per sequence: the KV cache blocks that hold positions [i * block_size, (i + 1) * block_size).
  std::vector<std::vector<int32_t>> block_tables;

  int64_t n_logit_rows() const;
};

struct KvCacheShape;
struct BatchLimits {
  int64_t vocab_size = 0;
  int64_t max_positions = 0;  // the model's context
};

// InvalidArgument with the row named for: an empty batch, a sequence index or token id out of
// range, a position past the context, a block table too short for a position or naming a block
// outside the cache, or a sequence whose rows are not consecutive increasing positions.
Status ValidateBatch(const Batch& batch, const BatchLimits& limits, const KvCacheShape& kv);

}  // namespace medassist::model
