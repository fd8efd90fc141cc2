#include "tokenizer/tokenizer.h"

#include <optional>

#include "tokenizer/added_tokens.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/spm.h"
#include "tokenizer/unicode.h"

namespace medassist::tokenizer {

struct Tokenizer::State {
  TokenizerSpec spec;
  std::vector<std::string> bytes;      // what each token decodes to
  std::vector<std::string> bpe_bytes;  // the BPE model's tokens (added tokens left empty)
  std::optional<BpeModel> bpe;
  std::optional<SpmModel> spm;
  std::optional<PreTokenizer> pretokenizer;
  AddedTokenMatcher added;
  StringIdMap piece_index;  // vocabulary form -> id, for FindToken
};

namespace {

// Decoded bytes of a SentencePiece token: U+2581 -> space, <0xNN> -> that byte.
std::string SpmTokenBytes(const std::string& piece, TokenKind kind) {
  if (kind == TokenKind::kByte && piece.size() == 6 && piece.compare(0, 3, "<0x") == 0) {
    return std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
  }
  std::string out;
  for (size_t i = 0; i < piece.size();) {
    if (piece.compare(i, kSpmSpace.size(), kSpmSpace) == 0) {
      out.push_back(' ');
      i += kSpmSpace.size();
    } else {
      out.push_back(piece[i++]);
    }
  }
  return out;
}

Status CheckSpec(const TokenizerSpec& spec) {
  auto n = static_cast<int64_t>(spec.pieces.size());
  if (n == 0) return DataLoss("vocabulary is empty");
  if (spec.kinds.size() != spec.pieces.size()) {
    return Internal("token kinds and pieces differ in length");
  }
  for (const AddedToken& t : spec.added_tokens) {
    if (t.id < 0 || t.id >= n) {
      return DataLoss("added token '" + t.content + "' has id " + std::to_string(t.id) +
                      " outside the vocabulary");
    }
  }
  for (const auto& id : {spec.bos_id, spec.eos_id, spec.pad_id, spec.unk_id}) {
    if (id && (*id < 0 || *id >= n)) {
      return DataLoss("special token id " + std::to_string(*id) + " outside the vocabulary");
    }
  }
  for (const Merge& m : spec.merges) {
    if (m.left < 0 || m.left >= n || m.right < 0 || m.right >= n) {
      return DataLoss("merge names a token id outside the vocabulary");
    }
  }
  return Status::Ok();
}

Status BuildByteLevel(Tokenizer::State& st) {
  const TokenizerSpec& spec = st.spec;
  st.bytes.resize(spec.pieces.size());
  st.bpe_bytes.resize(spec.pieces.size());
  for (size_t id = 0; id < spec.pieces.size(); ++id) {
    TokenKind kind = spec.kinds[id];
    if (kind == TokenKind::kControl || kind == TokenKind::kUserDefined) {
      st.bytes[id] = spec.pieces[id];  // added tokens are plain text, not byte-level encoded
      continue;
    }
    if (kind == TokenKind::kUnused) continue;
    std::optional<std::string> raw = ByteLevelToBytes(spec.pieces[id]);
    if (!raw) {
      return DataLoss("token " + std::to_string(id) + " '" + spec.pieces[id] +
                      "' is not in the byte-level alphabet");
    }
    st.bytes[id] = *raw;
    st.bpe_bytes[id] = std::move(*raw);
  }
  ASSIGN_OR_RETURN(st.bpe, BpeModel::Build(st.bpe_bytes, spec.merges));
  ASSIGN_OR_RETURN(st.pretokenizer, PreTokenizer::FromPattern(spec.pretokenizer_pattern));
  return Status::Ok();
}

Status BuildSentencePiece(Tokenizer::State& st) {
  const TokenizerSpec& spec = st.spec;
  std::array<TokenId, 256> byte_tokens;
  byte_tokens.fill(-1);
  st.bytes.resize(spec.pieces.size());
  for (size_t id = 0; id < spec.pieces.size(); ++id) {
    TokenKind kind = spec.kinds[id];
    st.bytes[id] =
        kind == TokenKind::kControl ? spec.pieces[id] : SpmTokenBytes(spec.pieces[id], kind);
    if (kind == TokenKind::kByte && st.bytes[id].size() == 1) {
      byte_tokens[static_cast<uint8_t>(st.bytes[id][0])] = static_cast<TokenId>(id);
    }
  }
  ASSIGN_OR_RETURN(
      st.spm, SpmModel::Build(spec.pieces, spec.scores, byte_tokens, spec.unk_id.value_or(-1)));
  return Status::Ok();
}

}  // namespace

Result<Tokenizer> Tokenizer::Create(TokenizerSpec spec) {
  Status s = CheckSpec(spec);
  if (!s.ok()) return s.WithContext(spec.source);
  auto st = std::make_shared<State>();
  st->spec = std::move(spec);
  s = st->spec.type == TokenizerType::kByteLevelBpe ? BuildByteLevel(*st) : BuildSentencePiece(*st);
  if (!s.ok()) return s.WithContext(st->spec.source);
  st->added = AddedTokenMatcher(st->spec.added_tokens);
  if (st->spec.nfc) PrepareNfcTables();
  st->piece_index.Reserve(st->spec.pieces.size() + st->spec.added_tokens.size());
  for (size_t id = 0; id < st->spec.pieces.size(); ++id) {
    const std::string& piece = st->spec.pieces[id];
    if (!piece.empty() && !st->piece_index.Insert(piece, static_cast<TokenId>(id))) {
      return DataLoss(st->spec.source + ": token '" + piece + "' appears twice (ids " +
                      std::to_string(st->piece_index.Find(piece)) + " and " + std::to_string(id) +
                      ")");
    }
  }
  Tokenizer t;
  t.state_ = std::move(st);
  return t;
}

std::vector<TokenId> Tokenizer::Encode(std::string_view text, const EncodeOptions& options) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 4);
  EncodeAppend(text, options, out);
  return out;
}

void Tokenizer::EncodeAppend(std::string_view text, const EncodeOptions& options,
                             std::vector<TokenId>& out) const {
  const State& st = *state_;
  if (options.add_bos && st.spec.bos_id) out.push_back(*st.spec.bos_id);
  std::vector<Fragment> fragments;
  st.added.Split(text, options.parse_special, fragments);
  std::vector<std::string_view> pieces;
  std::string normalized;
  bool after_special = true;  // SentencePiece: a space prefix starts the text and follows tokens
  for (const Fragment& f : fragments) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
      continue;
    }
    if (st.spm) {
      st.spm->Encode(f.text, st.spec.add_space_prefix && after_special, out);
      after_special = false;
      continue;
    }
    std::string_view body = f.text;
    if (st.spec.nfc && NormalizeNfc(body, normalized)) body = normalized;
    st.pretokenizer->Split(body, pieces);
    for (std::string_view piece : pieces) st.bpe->EncodePiece(piece, out);
  }
}

std::string Tokenizer::Decode(std::span<const TokenId> ids, const DecodeOptions& options) const {
  std::string out;
  for (TokenId id : ids) out.append(DecodeOne(id, options));
  if (strips_leading_space() && !out.empty() && out[0] == ' ') out.erase(0, 1);
  return out;
}

std::string_view Tokenizer::DecodeOne(TokenId id, const DecodeOptions& options) const {
  if (!IsValidId(id)) return {};
  const State& st = *state_;
  TokenKind kind = st.spec.kinds[id];
  if (kind == TokenKind::kControl && (options.skip_special || st.spm))
    return {};  // <s> has no text
  return st.bytes[id];
}

std::string_view Tokenizer::TokenBytes(TokenId id) const {
  return IsValidId(id) ? std::string_view(state_->bytes[id]) : std::string_view();
}

const std::string& Tokenizer::TokenPiece(TokenId id) const {
  static const std::string kEmpty;
  return IsValidId(id) ? state_->spec.pieces[id] : kEmpty;
}

TokenKind Tokenizer::Kind(TokenId id) const {
  return IsValidId(id) ? state_->spec.kinds[id] : TokenKind::kUnused;
}

std::optional<TokenId> Tokenizer::FindToken(std::string_view piece) const {
  TokenId id = state_->piece_index.Find(piece);
  if (id >= 0) return id;
  return std::nullopt;
}

int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(state_->spec.pieces.size()); }
TokenizerType Tokenizer::type() const { return state_->spec.type; }
std::optional<TokenId> Tokenizer::bos_id() const { return state_->spec.bos_id; }
std::optional<TokenId> Tokenizer::eos_id() const { return state_->spec.eos_id; }
std::optional<TokenId> Tokenizer::pad_id() const { return state_->spec.pad_id; }
bool Tokenizer::add_bos() const { return state_->spec.add_bos; }
bool Tokenizer::strips_leading_space() const {
  return state_->spm.has_value() && state_->spec.add_space_prefix;
}
const std::string& Tokenizer::chat_template() const { return state_->spec.chat_template; }
const std::string& Tokenizer::source() const { return state_->spec.source; }
const std::vector<AddedToken>& Tokenizer::added_tokens() const { return state_->spec.added_tokens; }

}  // namespace medassist::tokenizer
