// Streaming detokenization: text for each new token as soon as it is safe to show. A character
// spread over several byte-level tokens (emoji, CJK) is held back until its last byte arrives, so a
// stream never carries a broken UTF-8 sequence; bytes that can never become a character are shown
// as U+FFFD. The text of all Add() calls plus Flush() equals RepairUtf8(Decode(all ids)).
#pragma once

#include <string>

#include "tokenizer/tokenizer.h"

namespace medassist::tokenizer {

class StreamingDecoder {
 public:
  // tok must outlive the decoder.
  explicit StreamingDecoder(const Tokenizer& tok, DecodeOptions options = {});

  // Adds one token; returns the text that became complete (valid UTF-8, possibly empty).
  std::string Add(TokenId id);
  // Ends the stream: returns what was held back, an unfinished character becoming U+FFFD.
  std::string Flush();
  // Bytes held back waiting for the rest of a character (at most 3).
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer* tok_;
  DecodeOptions options_;
  std::string pending_;
  bool at_start_ = true;  // nothing emitted yet (SentencePiece drops one leading space there)
};

}  // namespace medassist::tokenizer
