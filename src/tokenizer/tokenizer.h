// The tokenizer: text <-> token ids for the model families the project serves.
//
//   byte-level BPE (Qwen2/Qwen2.5, GPT-2, Llama 3 style): added tokens split out first, then NFC,
//     the pre-tokenizer regex, and BPE over raw bytes;
//   SentencePiece-style BPE with byte fallback (GGUF "llama" tokenizers such as stories260K).
//
// Loaded from a Hugging Face tokenizer.json, from vocab.json + merges.txt + tokenizer_config.json,
// or from GGUF metadata (loaders.h). Immutable after loading and cheap to copy (shared state), so
// one instance serves every thread.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/bpe.h"

namespace medassist::tokenizer {

enum class TokenizerType { kByteLevelBpe, kSentencePieceBpe };

// GGUF's token types; kControl tokens are the "special" ones (chat markers, BOS/EOS).
enum class TokenKind : uint8_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,  // added tokens that are not special (e.g. Qwen2.5's <tool_call>)
  kUnused = 5,       // ids with no token (holes, padding of the embedding table)
  kByte = 6,         // <0xNN> byte-fallback tokens
};

struct EncodeOptions {
  // When true, the text of control tokens ("<|im_start|>") is turned into those tokens, as Hugging
  // Face does by default. Off by default: untrusted text (a user's message) never becomes control
  // tokens. Non-special added tokens are always matched, as in Hugging Face.
  bool parse_special = false;
  // Prepend the BOS token when the tokenizer has one (SentencePiece models expect it).
  bool add_bos = false;
};

struct DecodeOptions {
  bool skip_special = false;  // leave control tokens out of the text
};

// An added token (tokenizer.json "added_tokens", GGUF control/user-defined tokens).
struct AddedToken {
  TokenId id;
  std::string content;
  bool special = true;
  bool lstrip = false;  // the match swallows whitespace on its left
  bool rstrip = false;  // ... and on its right
};

// What every loader produces; Tokenizer::Create checks it and builds the fast tables.
struct TokenizerSpec {
  std::string source;  // file or folder, for messages
  TokenizerType type = TokenizerType::kByteLevelBpe;
  std::vector<std::string> pieces;  // vocabulary form ("Ġworld", "▁Once", "<0x0A>")
  std::vector<TokenKind> kinds;
  std::vector<float> scores;  // SentencePiece only
  std::vector<Merge> merges;  // byte-level BPE only, in rank order
  std::vector<AddedToken> added_tokens;
  std::string pretokenizer_pattern;  // byte-level BPE only
  bool nfc = false;
  bool add_space_prefix = true;  // SentencePiece only
  std::optional<TokenId> bos_id, eos_id, pad_id, unk_id;
  bool add_bos = false;
  std::string chat_template;  // Jinja source as found in the files, may be empty
};

class Tokenizer {
 public:
  // Loads from a folder (tokenizer.json, or vocab.json + merges.txt; tokenizer_config.json when
  // present), a tokenizer.json file, or a .gguf file.
  static Result<Tokenizer> Load(const std::string& path);
  static Result<Tokenizer> Create(TokenizerSpec spec);

  std::vector<TokenId> Encode(std::string_view text, const EncodeOptions& options = {}) const;
  // Appends to out; same result as Encode.
  void EncodeAppend(std::string_view text, const EncodeOptions& options,
                    std::vector<TokenId>& out) const;

  // Raw bytes of the text (may end inside a UTF-8 character; see RepairUtf8 and the streaming
  // decoder). Ids out of range are skipped: check them with IsValidId first if they are untrusted.
  std::string Decode(std::span<const TokenId> ids, const DecodeOptions& options = {}) const;
  // The bytes one token contributes to Decode's text under options (empty for a skipped control
  // token; before the leading-space strip of SentencePiece, which applies to a whole text).
  std::string_view DecodeOne(TokenId id, const DecodeOptions& options = {}) const;
  // The bytes of a token (control tokens: their text; SentencePiece: spaces restored).
  std::string_view TokenBytes(TokenId id) const;
  // The vocabulary form of a token ("Ġworld").
  const std::string& TokenPiece(TokenId id) const;
  TokenKind Kind(TokenId id) const;
  bool IsValidId(TokenId id) const { return id >= 0 && id < vocab_size(); }
  // Looks up a token by its vocabulary form or added-token text.
  std::optional<TokenId> FindToken(std::string_view piece) const;

  int32_t vocab_size() const;
  TokenizerType type() const;
  std::optional<TokenId> bos_id() const;
  std::optional<TokenId> eos_id() const;
  std::optional<TokenId> pad_id() const;
  bool add_bos() const;
  // SentencePiece decoding drops the space that encoding put in front of the text.
  bool strips_leading_space() const;
  const std::string& chat_template() const;
  const std::string& source() const;
  const std::vector<AddedToken>& added_tokens() const;

  struct State;

 private:
  std::shared_ptr<const State> state_;
};

}  // namespace medassist::tokenizer
