#include "tokenizer/bpe.h"

#include <climits>
#include <queue>

namespace medassist::tokenizer {
namespace {

std::string HexByte(int b) {
  static const char* kHex = "0123456789ABCDEF";
  return std::string("0x") + kHex[b >> 4] + kHex[b & 15];
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
