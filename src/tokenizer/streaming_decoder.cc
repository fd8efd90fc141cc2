#include "tokenizer/streaming_decoder.h"

#include "tokenizer/unicode.h"

namespace medassist::tokenizer {

StreamingDecoder::StreamingDecoder(const Tokenizer& tok, DecodeOptions options)
    : tok_(&tok), options_(options) {}

std::string StreamingDecoder::Add(TokenId id) {
  std::string_view bytes = tok_->DecodeOne(id, options_);
  if (bytes.empty()) return {};
  if (at_start_ && tok_->strips_leading_space() && bytes[0] == ' ') bytes.remove_prefix(1);
  at_start_ = false;
  pending_.append(bytes);
  size_t n = CompleteUtf8Prefix(pending_);
  std::string out = RepairUtf8(std::string_view(pending_).substr(0, n));
  pending_.erase(0, n);
  return out;
}

std::string StreamingDecoder::Flush() {
  std::string out = RepairUtf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace medassist::tokenizer
