#include "runtime/kv_block_pool.h"

#include "core/check.h"

namespace medassist::runtime {

KvBlockPool::KvBlockPool(int32_t n_blocks) : ref_counts_(static_cast<size_t>(n_blocks), 0) {
  CHECK(n_blocks >= 0);
  free_.reserve(static_cast<size_t>(n_blocks));
  for (int32_t b = n_blocks - 1; b >= 0; --b) free_.push_back(b);  // block 0 first
}

bool KvBlockPool::Allocate(int32_t n, std::vector<int32_t>* out) {
  CHECK(n >= 0);
  if (n > n_free()) return false;
  for (int32_t i = 0; i < n; ++i) {
    const int32_t b = free_.back();
    free_.pop_back();
    ref_counts_[static_cast<size_t>(b)] = 1;
    out->push_back(b);
  }
  return true;
}

void KvBlockPool::Retain(int32_t block) {
  CHECK(ref_count(block) > 0);
  ++ref_counts_[static_cast<size_t>(block)];
}

void KvBlockPool::Release(int32_t block) {
  CHECK(ref_count(block) > 0);
  if (--ref_counts_[static_cast<size_t>(block)] == 0) free_.push_back(block);
}

void KvBlockPool::Release(const std::vector<int32_t>& blocks) {
  for (int32_t b : blocks) Release(b);
}

int32_t KvBlockPool::ref_count(int32_t block) const {
  CHECK(block >= 0 && block < n_blocks());
  return ref_counts_[static_cast<size_t>(block)];
}

}  // namespace medassist::runtime
