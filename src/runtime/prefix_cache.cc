#include "runtime/prefix_cache.h"

#include <algorithm>

namespace medassist::runtime {

PrefixCache::PrefixCache(int32_t block_size) : block_size_(block_size) {}

// SplitMix64's finaliser over the parent key and each token: cheap, well mixed.
uint64_t PrefixCache::Key(uint64_t parent, std::span<const int32_t> block_tokens) {
  uint64_t h = parent;
  for (int32_t t : block_tokens) {
    h += 0x9E3779B97F4A7C15ull + static_cast<uint32_t>(t);
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    h ^= h >> 31;
  }
  return h;
}

std::vector<int32_t> PrefixCache::Match(KvBlockPool& pool, std::span<const int32_t> tokens,
                                        int32_t max_blocks, uint64_t* chain_key) {
  std::vector<int32_t> blocks;
  uint64_t key = kRoot;
  const int32_t full = static_cast<int32_t>(tokens.size()) / block_size_;
  const int32_t n = std::min(full, max_blocks);
  for (int32_t i = 0; i < n; ++i) {
    const std::span<const int32_t> block_tokens =
        tokens.subspan(static_cast<size_t>(i) * block_size_, static_cast<size_t>(block_size_));
    const uint64_t next = Key(key, block_tokens);
    const auto it = entries_.find(next);
    if (it == entries_.end() || it->second.parent != key ||
        !std::equal(block_tokens.begin(), block_tokens.end(), it->second.tokens.begin(),
                    it->second.tokens.end())) {
      break;
    }
    it->second.last_used = ++clock_;
    pool.Retain(it->second.block);
    blocks.push_back(it->second.block);
    key = next;
  }
  *chain_key = key;
  return blocks;
}

void PrefixCache::Insert(KvBlockPool& pool, std::span<const int32_t> block_tokens, int32_t block,
                         uint64_t* chain_key) {
  const uint64_t next = Key(*chain_key, block_tokens);
  const auto [it, inserted] = entries_.try_emplace(
      next, Entry{*chain_key, std::vector<int32_t>(block_tokens.begin(), block_tokens.end()), block,
                  ++clock_});
  if (inserted) pool.Retain(block);
  *chain_key = next;
}

int32_t PrefixCache::Evict(KvBlockPool& pool, int32_t n) {
  std::vector<std::pair<uint64_t, uint64_t>> idle;  // (last_used, key) of blocks only we hold
  for (const auto& [key, e] : entries_) {
    if (pool.ref_count(e.block) == 1) idle.emplace_back(e.last_used, key);
  }
  std::sort(idle.begin(), idle.end());
  int32_t released = 0;
  for (const auto& [last_used, key] : idle) {
    if (released >= n) break;
    const auto it = entries_.find(key);
    pool.Release(it->second.block);
    entries_.erase(it);
    ++released;
  }
  return released;
}

}  // namespace medassist::runtime
