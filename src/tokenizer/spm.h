// SentencePiece-style BPE, as in llama.cpp's "llama" tokenizer model (GGUF tokenizer.ggml.model =
// "llama", e.g. stories260K): spaces become U+2581, a space is put in front of the text, then the
// adjacent pair whose joined text is a token with the highest score is merged (leftmost first on
// ties) until none is left; characters with no token fall back to <0xNN> byte tokens.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/bpe.h"
#include "tokenizer/flat_map.h"

namespace medassist::tokenizer {

inline constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

class SpmModel {
 public:
  // pieces[id]: vocabulary text (with U+2581 for spaces); byte_tokens: id of <0xNN> for each byte
  // (-1 if missing); unk_id: used when a byte has no token (-1 if none). pieces must outlive this.
  static Result<SpmModel> Build(const std::vector<std::string>& pieces,
                                const std::vector<float>& scores,
                                const std::array<TokenId, 256>& byte_tokens, TokenId unk_id);

  // Appends the tokens of text. add_space_prefix puts a space in front first.
  void Encode(std::string_view text, bool add_space_prefix, std::vector<TokenId>& out) const;

 private:
  void EmitSymbol(std::string_view symbol, std::vector<TokenId>& out) const;

  StringIdMap index_;
  const std::vector<float>* scores_ = nullptr;
  std::array<TokenId, 256> byte_tokens_{};
  TokenId unk_id_ = -1;
};

}  // namespace medassist::tokenizer
