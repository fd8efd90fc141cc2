#include "tokenizer/bpe.h"

#include <algorithm>
#include <climits>
#include <queue>
#include <unordered_map>

namespace medassist::tokenizer {
namespace {

std::string HexByte(int b) {
  static const char* kHex = "0123456789ABCDEF";
  return std::string("0x") + kHex[b >> 4] + kHex[b & 15];
}

// For each token, the highest rank of a merge that makes it must be below the lowest rank of a
// merge that uses it (see merges_are_rank_ordered()).
bool RanksAreOrdered(size_t n_tokens, const std::vector<Merge>& merges, const PairMap& map) {
  std::vector<int32_t> last_made(n_tokens, -1);
  std::vector<int32_t> first_used(n_tokens, INT32_MAX);
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const PairMap::Value* v = map.Find(PairKey(merges[rank].left, merges[rank].right));
    if (v->rank != static_cast<int32_t>(rank)) continue;  // a repeated pair never fires
    auto r = static_cast<int32_t>(rank);
    last_made[v->merged] = std::max(last_made[v->merged], r);
    first_used[merges[rank].left] = std::min(first_used[merges[rank].left], r);
    first_used[merges[rank].right] = std::min(first_used[merges[rank].right], r);
  }
  for (size_t t = 0; t < n_tokens; ++t) {
    if (last_made[t] >= first_used[t]) return false;
  }
  return true;
}

}  // namespace

Result<BpeModel> BpeModel::Build(const std::vector<std::string>& token_bytes,
                                 const std::vector<Merge>& merges) {
  BpeModel m;
  StringIdMap index;  // becomes token_index_
  index.Reserve(token_bytes.size());
  for (size_t id = 0; id < token_bytes.size(); ++id) {
    if (!token_bytes[id].empty()) index.Insert(token_bytes[id], static_cast<TokenId>(id));
  }
  for (int b = 0; b < 256; ++b) {
    char c = static_cast<char>(b);
    m.byte_token_[b] = index.Find(std::string_view(&c, 1));
    if (m.byte_token_[b] < 0) {
      return DataLoss("vocabulary has no token for byte " + HexByte(b) +
                      " (a byte-level BPE vocabulary needs all 256)");
    }
  }
  m.merges_.Reserve(merges.size());
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const Merge& mg = merges[rank];
    if (token_bytes[mg.left].empty() || token_bytes[mg.right].empty()) {
      return DataLoss("merge " + std::to_string(rank + 1) + " names token " +
                      std::to_string(token_bytes[mg.left].empty() ? mg.left : mg.right) +
                      ", which is not a BPE token");
    }
    joined = token_bytes[mg.left] + token_bytes[mg.right];
    TokenId merged = index.Find(joined);
    if (merged < 0) {
      return DataLoss("merge " + std::to_string(rank + 1) + " (tokens " + std::to_string(mg.left) +
                      " + " + std::to_string(mg.right) + ") forms a string that is not a token");
    }
    // A repeated pair keeps its first (lowest) rank: later copies could never fire first anyway.
    m.merges_.Insert(PairKey(mg.left, mg.right), {static_cast<int32_t>(rank), merged});
  }
  m.rank_ordered_ = RanksAreOrdered(token_bytes.size(), merges, m.merges_);
  m.token_index_ = std::move(index);
  m.whole_token_state_ = std::make_unique<std::atomic<uint8_t>[]>(token_bytes.size());
  return m;
}

void BpeModel::EncodePiece(std::string_view piece, std::vector<TokenId>& out) const {
  if (piece.size() == 1) {
    out.push_back(byte_token_[static_cast<uint8_t>(piece[0])]);
    return;
  }
  TokenId whole = token_index_.Find(piece);
  if (whole >= 0) {
    std::atomic<uint8_t>& state = whole_token_state_[whole];
    uint8_t known = state.load(std::memory_order_relaxed);
    if (known == 0) {
      std::vector<TokenId> ids;
      MergeNaive(piece, ids);
      known = ids.size() == 1 && ids[0] == whole ? 1 : 2;
      state.store(known, std::memory_order_relaxed);
    }
    if (known == 1) {
      out.push_back(whole);
      return;
    }
  }
  if (piece.size() <= kNaiveMaxBytes) {
    MergeNaive(piece, out);
  } else if (rank_ordered_) {
    MergeByRank(piece, out);
  } else {
    MergeWithHeap(piece, out);
  }
}

void BpeModel::MergeNaive(std::string_view piece, std::vector<TokenId>& out) const {
  // ids[i]: current symbols; rank[i], merged[i]: the merge of the pair (i, i + 1), if any.
  // Short pieces (nearly all of them) live on the stack: no allocation in the common case.
  constexpr size_t kStack = 64;
  size_t n = piece.size();
  std::array<int32_t, 3 * kStack> stack_buf;
  std::vector<int32_t> heap_buf;
  int32_t* buf = stack_buf.data();
  if (n > kStack) {
    heap_buf.resize(3 * n);
    buf = heap_buf.data();
  }
  TokenId* ids = buf;
  int32_t* rank = buf + n;
  TokenId* merged = buf + 2 * n;
  for (size_t i = 0; i < n; ++i) ids[i] = byte_token_[static_cast<uint8_t>(piece[i])];
  auto lookup = [&](size_t i) {
    const PairMap::Value* v = merges_.Find(PairKey(ids[i], ids[i + 1]));
    rank[i] = v != nullptr ? v->rank : INT32_MAX;
    merged[i] = v != nullptr ? v->merged : -1;
  };
  for (size_t i = 0; i + 1 < n; ++i) lookup(i);
  if (n > 0) rank[n - 1] = INT32_MAX;  // the last symbol has no right neighbour
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i) {
      if (rank[i] < rank[best]) best = i;
    }
    if (rank[best] == INT32_MAX) break;
    ids[best] = merged[best];
    for (size_t i = best + 1; i + 1 < n; ++i) {  // drop symbol best + 1
      ids[i] = ids[i + 1];
      rank[i] = rank[i + 1];
      merged[i] = merged[i + 1];
    }
    --n;
    rank[n - 1] = INT32_MAX;
    if (best > 0) lookup(best - 1);
    if (best + 1 < n) lookup(best);
  }
  out.insert(out.end(), ids, ids + n);
}

void BpeModel::MergeWithHeap(std::string_view piece, std::vector<TokenId>& out) const {
  // Symbols in a doubly linked list over the original byte positions; candidate merges in a
  // min-heap by (rank, position). A candidate is stale if either side changed since it was pushed.
  struct Symbol {
    TokenId id;
    int32_t prev;
    int32_t next;
  };
  struct Candidate {
    int32_t rank;
    int32_t pos;
    TokenId left;
    TokenId right;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  const auto n = static_cast<int32_t>(piece.size());
  std::vector<Symbol> sym(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    sym[i] = {byte_token_[static_cast<uint8_t>(piece[i])], i - 1, i + 1 < n ? i + 1 : -1};
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  auto push = [&](int32_t left_pos) {
    if (left_pos < 0) return;
    int32_t right_pos = sym[left_pos].next;
    if (right_pos < 0) return;
    const PairMap::Value* v = merges_.Find(PairKey(sym[left_pos].id, sym[right_pos].id));
    if (v != nullptr) heap.push({v->rank, left_pos, sym[left_pos].id, sym[right_pos].id});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    Candidate c = heap.top();
    heap.pop();
    Symbol& left = sym[c.pos];
    if (left.id != c.left || left.next < 0 || sym[left.next].id != c.right) continue;  // stale
    int32_t right_pos = left.next;
    left.id = merges_.Find(PairKey(c.left, c.right))->merged;
    left.next = sym[right_pos].next;
    if (left.next >= 0) sym[left.next].prev = c.pos;
    sym[right_pos].id = -1;  // dead: no candidate can match it again
    push(left.prev);
    push(c.pos);
  }
  for (int32_t i = 0; i >= 0 && i < n; i = sym[i].next) out.push_back(sym[i].id);
}

}  // namespace medassist::tokenizer

namespace medassist::tokenizer {

void BpeModel::MergeByRank(std::string_view piece, std::vector<TokenId>& out) const {
  // Candidate pairs are kept in one bucket per rank; ranks are visited lowest first and each
  // bucket's positions left to right, which is the heap's (rank, position) order. Merging can only
  // create pairs of a higher rank (merges_are_rank_ordered), so a visited rank never refills.
  // A position is stale when the pair there is no longer the bucket's pair.
  DCHECK(rank_ordered_);
  struct Symbol {
    TokenId id;
    int32_t prev;
    int32_t next;
  };
  const auto n = static_cast<int32_t>(piece.size());
  std::vector<Symbol> sym(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    sym[i] = {byte_token_[static_cast<uint8_t>(piece[i])], i - 1, i + 1 < n ? i + 1 : -1};
  }
  std::unordered_map<int32_t, std::vector<int32_t>> buckets;
  std::priority_queue<int32_t, std::vector<int32_t>, std::greater<>> ranks;
  auto pair_at = [&](int32_t left_pos) -> const PairMap::Value* {
    if (left_pos < 0 || sym[left_pos].id < 0 || sym[left_pos].next < 0) return nullptr;
    return merges_.Find(PairKey(sym[left_pos].id, sym[sym[left_pos].next].id));
  };
  auto push = [&](int32_t left_pos) {
    const PairMap::Value* v = pair_at(left_pos);
    if (v == nullptr) return;
    std::vector<int32_t>& bucket = buckets[v->rank];
    if (bucket.empty()) ranks.push(v->rank);
    bucket.push_back(left_pos);
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  std::vector<int32_t> positions;
  while (!ranks.empty()) {
    int32_t rank = ranks.top();
    ranks.pop();
    auto it = buckets.find(rank);
    positions.swap(it->second);
    buckets.erase(it);
    std::sort(positions.begin(), positions.end());
    for (int32_t pos : positions) {
      const PairMap::Value* v = pair_at(pos);
      if (v == nullptr || v->rank != rank) continue;  // stale
      Symbol& left = sym[pos];
      int32_t right_pos = left.next;
      left.id = v->merged;
      left.next = sym[right_pos].next;
      if (left.next >= 0) sym[left.next].prev = pos;
      sym[right_pos].id = -1;
      push(left.prev);
      push(pos);
    }
    positions.clear();
  }
  for (int32_t i = 0; i >= 0 && i < n; i = sym[i].next) out.push_back(sym[i].id);
}

}  // namespace medassist::tokenizer
