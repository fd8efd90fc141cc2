// Finding added tokens ("<|im_start|>", "<tool_call>") in text before the rest of tokenization, as
// Hugging Face does: leftmost match, longest on ties, with lstrip/rstrip honoured.
#pragma once

#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace medassist::tokenizer {

// A stretch of input: plain text to tokenize, or one added token.
struct Fragment {
  std::string_view text;  // empty for a token
  TokenId token = -1;     // >= 0 for a token
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(const std::vector<AddedToken>& tokens);

  // Splits text into fragments. Special tokens are matched only when parse_special is set.
  void Split(std::string_view text, bool parse_special, std::vector<Fragment>& out) const;

 private:
  struct Entry {
    std::string_view content;
    TokenId id;
    bool special, lstrip, rstrip;
  };
  // Finds the match starting at pos, or nullptr.
  const Entry* MatchAt(std::string_view text, size_t pos, bool parse_special) const;

  std::vector<Entry> entries_;  // sorted by first byte, then longest first
  bool first_byte_[256] = {};
};

}  // namespace medassist::tokenizer
