// Which KV cache blocks are free (DESIGN §4): the runtime hands blocks to sequences and takes them
// back the moment a sequence finishes or is cancelled. Reference counts let a block be shared (a
// prefix cache holds its own reference). Single-threaded: the engine thread owns it.
#pragma once

#include <cstdint>
#include <vector>

namespace medassist::runtime {

class KvBlockPool {
 public:
  explicit KvBlockPool(int32_t n_blocks);

  int32_t n_blocks() const { return static_cast<int32_t>(ref_counts_.size()); }
  int32_t n_free() const { return static_cast<int32_t>(free_.size()); }
  int32_t n_used() const { return n_blocks() - n_free(); }

  // Appends n blocks (reference count 1) to *out, or takes none and returns false when fewer
  // than n are free: running out of blocks is a capacity outcome, not an error.
  bool Allocate(int32_t n, std::vector<int32_t>* out);
  // One more owner of a used block.
  void Retain(int32_t block);
  // One owner fewer; the last one frees the block.
  void Release(int32_t block);
  void Release(const std::vector<int32_t>& blocks);
  int32_t ref_count(int32_t block) const;

 private:
  std::vector<int32_t> ref_counts_;
  std::vector<int32_t> free_;  // a stack: the block freed last is reused first
};

}  // namespace medassist::runtime
