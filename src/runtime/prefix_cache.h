// Reuse of KV blocks across requests that share a prefix (a system prompt, the earlier turns of a
// chat). A full block of positions is known by its tokens and those of every block before it
// (a hash chain, checked against the stored tokens, so a hash collision can only miss, never give
// another prompt's keys and values). The cache holds one reference on each block it knows
// (KvBlockPool), so a block outlives the sequence that computed it; blocks only the cache holds
// are evicted least recently used first when a new request needs room. The model's batch
// invariance (DESIGN §2b) makes reused keys and values bit-identical to recomputed ones.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "runtime/kv_block_pool.h"

namespace medassist::runtime {

class PrefixCache {
 public:
  // The pool is passed to each call rather than held, so the owner (EngineCore) stays movable.
  explicit PrefixCache(int32_t block_size);

  // The chain key of the empty prefix.
  static constexpr uint64_t kRoot = 0x6D65646173736973ull;

  // The cached blocks that hold the first full blocks of tokens, at most max_blocks, in order;
  // each is retained for the caller (who releases it with the pool). *chain_key becomes the key
  // after the last block returned.
  std::vector<int32_t> Match(KvBlockPool& pool, std::span<const int32_t> tokens, int32_t max_blocks,
                             uint64_t* chain_key);
  // Offers the block holding tokens [i * block_size, (i + 1) * block_size) of a sequence, whose
  // keys and values are computed; chain_key is the key after block i - 1 and becomes the key
  // after block i. The cache retains the block unless it already knows that prefix.
  void Insert(KvBlockPool& pool, std::span<const int32_t> block_tokens, int32_t block,
              uint64_t* chain_key);
  // Releases up to n blocks that only the cache holds, least recently used first; returns how
  // many it released.
  int32_t Evict(KvBlockPool& pool, int32_t n);

  int32_t n_blocks() const { return static_cast<int32_t>(entries_.size()); }

 private:
  struct Entry {
    uint64_t parent;
    std::vector<int32_t> tokens;
    int32_t block;
    uint64_t last_used;
  };
  static uint64_t Key(uint64_t parent, std::span<const int32_t> block_tokens);

  int32_t block_size_;
  std::unordered_map<uint64_t, Entry> entries_;
  uint64_t clock_ = 0;
};

}  // namespace medassist::runtime
