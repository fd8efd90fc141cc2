// An independent, deliberately plain byte-level BPE for tests: symbols are strings, merges a
// std::map from string pairs to ranks, and each step rescans the whole piece for the lowest rank
// (leftmost on ties). Slow (O(n^2) per piece) and obviously right.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/bpe.h"

namespace medassist::tokenizer::testing {

class ReferenceBpe {
 public:
  // tokens[id]: raw bytes ("" for ids that are not BPE tokens); merges in rank order.
  ReferenceBpe(const std::vector<std::string>& tokens, const std::vector<Merge>& merges) {
    for (size_t r = 0; r < merges.size(); ++r) {
      rank_.emplace(std::make_pair(tokens[merges[r].left], tokens[merges[r].right]), r);
    }
  }

  // The bytes of each token of piece.
  std::vector<std::string> Encode(std::string_view piece) const {
    std::vector<std::string> syms;
    for (char c : piece) syms.emplace_back(1, c);
    while (syms.size() > 1) {
      size_t best = 0;
      size_t best_rank = SIZE_MAX;
      for (size_t i = 0; i + 1 < syms.size(); ++i) {
        auto it = rank_.find({syms[i], syms[i + 1]});
        if (it != rank_.end() && it->second < best_rank) {
          best = i;
          best_rank = it->second;
        }
      }
      if (best_rank == SIZE_MAX) break;
      syms[best] += syms[best + 1];
      syms.erase(syms.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    }
    return syms;
  }

 private:
  std::map<std::pair<std::string, std::string>, size_t> rank_;  // first copy of a pair wins
};

}  // namespace medassist::tokenizer::testing
