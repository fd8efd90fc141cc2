#include "model/batch.h"

#include <string>

#include "model/kv_cache.h"

namespace medassist::model {

int64_t Batch::n_logit_rows() const {
  int64_t n = 0;
  for (const BatchRow& row : rows) n += row.logits ? 1 : 0;
  return n;
}

namespace {

std::string RowName(size_t i, const BatchRow& row) {
  return "batch row " + std::to_string(i) + " (sequence " + std::to_string(row.seq) +
         ", position " + std::to_string(row.pos) + ")";
}

Status ValidateRow(size_t i, const BatchRow& row, const Batch& batch, const BatchLimits& limits,
                   const KvCacheShape& kv) {
  if (row.seq < 0 || static_cast<size_t>(row.seq) >= batch.block_tables.size()) {
    return InvalidArgument(RowName(i, row) + ": no block table for the sequence (" +
                           std::to_string(batch.block_tables.size()) + " given)");
  }
  if (row.token < 0 || row.token >= limits.vocab_size) {
    return InvalidArgument(RowName(i, row) + ": token id " + std::to_string(row.token) +
                           " is outside the vocabulary of " + std::to_string(limits.vocab_size));
  }
  if (row.pos < 0 || row.pos >= limits.max_positions) {
    return InvalidArgument(RowName(i, row) + ": position is past the model's context of " +
                           std::to_string(limits.max_positions) + " tokens");
  }
  const std::vector<int32_t>& table = batch.block_tables[static_cast<size_t>(row.seq)];
  const size_t block_index = static_cast<size_t>(row.pos / kv.block_size);
  if (block_index >= table.size()) {
    return InvalidArgument(RowName(i, row) + ": the block table has " +
                           std::to_string(table.size()) + " blocks of " +
                           std::to_string(kv.block_size) + " positions");
  }
  // Every block up to this position is read by attention, so all must be valid.
  for (size_t b = 0; b <= block_index; ++b) {
    if (table[b] < 0 || table[b] >= kv.n_blocks) {
      return InvalidArgument(RowName(i, row) + ": block table entry " + std::to_string(b) +
                             " names block " + std::to_string(table[b]) + " of a cache of " +
                             std::to_string(kv.n_blocks));
    }
  }
  return Status::Ok();
}

}  // namespace

Status ValidateBatch(const Batch& batch, const BatchLimits& limits, const KvCacheShape& kv) {
  if (batch.rows.empty()) return InvalidArgument("empty batch");
  std::vector<int32_t> next_pos(batch.block_tables.size(), -1);  // -1: no row seen yet
  for (size_t i = 0; i < batch.rows.size(); ++i) {
    const BatchRow& row = batch.rows[i];
    RETURN_IF_ERROR(ValidateRow(i, row, batch, limits, kv));
    int32_t& expected = next_pos[static_cast<size_t>(row.seq)];
    if (expected != -1 && row.pos != expected) {
      return InvalidArgument(RowName(i, row) + ": the sequence's previous row was at position " +
                             std::to_string(expected - 1) +
                             "; a sequence's rows must have consecutive increasing positions");
    }
    expected = row.pos + 1;
  }
  return Status::Ok();
}

}  // namespace medassist::model
