// Tokenizers stored in GGUF metadata (tokenizer.ggml.*), as llama.cpp writes them.
#include "formats/gguf_reader.h"
#include "tokenizer/loaders.h"
#include "tokenizer/pretokenizer.h"

namespace medassist::tokenizer {
namespace {

// tokenizer.ggml.pre names (llama.cpp) -> the regex of that family.
Result<std::string> PatternForPre(std::string_view pre, bool* nfc) {
  *nfc = false;
  if (pre == "qwen2") {
    *nfc = true;  // as Hugging Face's Qwen2 tokenizer, the reference these models were trained with
    return std::string(kQwen2Pattern);
  }
  if (pre.empty() || pre == "default" || pre == "gpt-2" || pre == "gpt2") {
    return std::string(kGpt2Pattern);
  }
  if (pre == "llama-bpe" || pre == "llama3") return std::string(kLlama3Pattern);
  return Unimplemented("tokenizer.ggml.pre '" + std::string(pre) +
                       "' is not supported (qwen2, gpt-2, llama-bpe)");
}

Result<std::optional<TokenId>> OptionalId(const formats::GgufFile& gguf, std::string_view key) {
  if (gguf.Find(key) == nullptr) return std::optional<TokenId>();
  ASSIGN_OR_RETURN(uint32_t id, gguf.GetUint32(key));
  if (id == UINT32_MAX) return std::optional<TokenId>();  // llama.cpp writes -1 for "none"
  return std::optional<TokenId>(static_cast<TokenId>(id));
}

Status ReadKinds(const formats::GgufFile& gguf, TokenizerSpec& spec) {
  spec.kinds.assign(spec.pieces.size(), TokenKind::kNormal);
  if (gguf.Find("tokenizer.ggml.token_type") == nullptr) return Status::Ok();
  ASSIGN_OR_RETURN(std::vector<int32_t> types, gguf.GetInt32Array("tokenizer.ggml.token_type"));
  if (types.size() != spec.pieces.size()) {
    return DataLoss("tokenizer.ggml.token_type has " + std::to_string(types.size()) +
                    " entries for " + std::to_string(spec.pieces.size()) + " tokens");
  }
  for (size_t id = 0; id < types.size(); ++id) {
    if (types[id] < 1 || types[id] > 6) {
      return DataLoss("token " + std::to_string(id) + " has unknown token type " +
                      std::to_string(types[id]));
    }
    spec.kinds[id] = static_cast<TokenKind>(types[id]);
    bool added =
        spec.kinds[id] == TokenKind::kControl || spec.kinds[id] == TokenKind::kUserDefined ||
        (spec.kinds[id] == TokenKind::kUnknown && spec.type == TokenizerType::kSentencePieceBpe);
    if (added && !spec.pieces[id].empty()) {
      spec.added_tokens.push_back({static_cast<TokenId>(id), spec.pieces[id],
                                   spec.kinds[id] != TokenKind::kUserDefined, false, false});
    }
  }
  return Status::Ok();
}

Status ReadMerges(const formats::GgufFile& gguf, TokenizerSpec& spec) {
  ASSIGN_OR_RETURN(std::vector<std::string_view> merges,
                   gguf.GetStringArray("tokenizer.ggml.merges"));
  StringIdMap index;
  index.Reserve(spec.pieces.size());
  for (size_t id = 0; id < spec.pieces.size(); ++id) {
    if (spec.kinds[id] == TokenKind::kNormal || spec.kinds[id] == TokenKind::kByte) {
      index.Insert(spec.pieces[id], static_cast<TokenId>(id));
    }
  }
  spec.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    std::string_view m = merges[i];
    size_t space = m.find(' ');
    TokenId l = space == std::string_view::npos ? -1 : index.Find(m.substr(0, space));
    TokenId r = space == std::string_view::npos ? -1 : index.Find(m.substr(space + 1));
    if (l < 0 || r < 0) {
      return DataLoss("tokenizer.ggml.merges[" + std::to_string(i) + "] '" +
                      std::string(m.substr(0, 80)) + "' does not name two tokens");
    }
    spec.merges.push_back({l, r});
  }
  return Status::Ok();
}

Status ReadSpec(const formats::GgufFile& gguf, TokenizerSpec& spec) {
  ASSIGN_OR_RETURN(std::string_view model, gguf.GetString("tokenizer.ggml.model"));
  if (model == "gpt2") {
    spec.type = TokenizerType::kByteLevelBpe;
  } else if (model == "llama") {
    spec.type = TokenizerType::kSentencePieceBpe;
  } else {
    return Unimplemented("tokenizer.ggml.model '" + std::string(model) +
                         "' is not supported (gpt2, llama)");
  }
  ASSIGN_OR_RETURN(std::vector<std::string_view> tokens,
                   gguf.GetStringArray("tokenizer.ggml.tokens"));
  spec.pieces.assign(tokens.begin(), tokens.end());
  RETURN_IF_ERROR(ReadKinds(gguf, spec));
  if (spec.type == TokenizerType::kSentencePieceBpe) {
    ASSIGN_OR_RETURN(spec.scores, gguf.GetFloat32Array("tokenizer.ggml.scores"));
    spec.add_bos = true;
    if (gguf.Find("tokenizer.ggml.add_space_prefix") != nullptr) {
      ASSIGN_OR_RETURN(spec.add_space_prefix, gguf.GetBool("tokenizer.ggml.add_space_prefix"));
    }
  } else {
    RETURN_IF_ERROR(ReadMerges(gguf, spec));
    std::string_view pre;
    if (gguf.Find("tokenizer.ggml.pre") != nullptr) {
      ASSIGN_OR_RETURN(pre, gguf.GetString("tokenizer.ggml.pre"));
    }
    ASSIGN_OR_RETURN(spec.pretokenizer_pattern, PatternForPre(pre, &spec.nfc));
  }
  ASSIGN_OR_RETURN(spec.bos_id, OptionalId(gguf, "tokenizer.ggml.bos_token_id"));
  ASSIGN_OR_RETURN(spec.eos_id, OptionalId(gguf, "tokenizer.ggml.eos_token_id"));
  ASSIGN_OR_RETURN(spec.pad_id, OptionalId(gguf, "tokenizer.ggml.padding_token_id"));
  ASSIGN_OR_RETURN(spec.unk_id, OptionalId(gguf, "tokenizer.ggml.unknown_token_id"));
  if (gguf.Find("tokenizer.ggml.add_bos_token") != nullptr) {
    ASSIGN_OR_RETURN(spec.add_bos, gguf.GetBool("tokenizer.ggml.add_bos_token"));
  }
  if (gguf.Find("tokenizer.chat_template") != nullptr) {
    ASSIGN_OR_RETURN(std::string_view tmpl, gguf.GetString("tokenizer.chat_template"));
    spec.chat_template = std::string(tmpl);
  }
  return Status::Ok();
}

}  // namespace

Result<TokenizerSpec> SpecFromGguf(const formats::GgufFile& gguf, const std::string& source) {
  TokenizerSpec spec;
  spec.source = source;
  Status s = ReadSpec(gguf, spec);
  if (!s.ok()) {
    // The reader's own messages already name the file.
    if (s.message().rfind(gguf.source(), 0) == 0) return s;
    return s.WithContext(source);
  }
  return spec;
}

}  // namespace medassist::tokenizer
