// Byte-level BPE: a piece of raw bytes starts as one token per byte; the adjacent pair with the
// lowest merge rank is merged (leftmost first on ties) until no pair has a merge. This is the
// algorithm of Hugging Face tokenizers' BPE model (GPT-2, Qwen2, Llama 3).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/flat_map.h"

namespace medassist::tokenizer {

using TokenId = int32_t;

struct Merge {
  TokenId left;
  TokenId right;
};

class BpeModel {
 public:
  // token_bytes[id] are the raw bytes of each token (empty for ids that are not BPE tokens);
  // merges are in rank order. Every merged pair must form a token of the vocabulary, and all 256
  // single bytes must be tokens. The vectors must outlive the model (it keeps views).
  static Result<BpeModel> Build(const std::vector<std::string>& token_bytes,
                                const std::vector<Merge>& merges);

  // Appends the tokens of one pre-tokenized piece to out.
  void EncodePiece(std::string_view piece, std::vector<TokenId>& out) const;

  // The merge loop without the whole-token shortcut: naive O(n^2), heap-based O(n log n), and
  // rank-ordered (MergeByRank, valid only when merges_are_rank_ordered()); exposed so that tests
  // can check they agree with each other and with EncodePiece.
  void MergeNaive(std::string_view piece, std::vector<TokenId>& out) const;
  void MergeWithHeap(std::string_view piece, std::vector<TokenId>& out) const;
  void MergeByRank(std::string_view piece, std::vector<TokenId>& out) const;

  // True when every token is only used by merges ranked after all merges that make it, as in any
  // merge list written by BPE training. Then a merge can only create pairs of higher rank, so
  // merges can be applied rank by rank (MergeByRank) instead of through a heap.
  bool merges_are_rank_ordered() const { return rank_ordered_; }

  size_t num_merges() const { return merges_.size(); }

 private:
  // Pieces longer than this use the heap so that a 20 MB run of one letter stays O(n log n).
  static constexpr size_t kNaiveMaxBytes = 48;

  std::array<TokenId, 256> byte_token_{};
  PairMap merges_;
  bool rank_ordered_ = false;
  // Whole-token shortcut: a piece equal to token t is answered as [t] when t's own bytes
  // BPE-encode to exactly t (not every token does). That fact is worked out by the merge loop the
  // first time a piece equals t and remembered per token: 0 unknown, 1 yes, 2 no. Racing threads
  // compute and store the same value, so relaxed atomics are enough, and the answer is always the
  // merge loop's.
  StringIdMap token_index_;
  std::unique_ptr<std::atomic<uint8_t>[]> whole_token_state_;
};

}  // namespace medassist::tokenizer
