// Hugging Face tokenizer files: tokenizer.json, vocab.json + merges.txt, tokenizer_config.json.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "formats/json_util.h"
#include "tokenizer/flat_map.h"
#include "tokenizer/loaders.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/vocab_json.h"

namespace medassist::tokenizer {
namespace {

using nlohmann::json;

// More ids than any real vocabulary has; a larger id is a corrupt file, not a reason to allocate.
constexpr int64_t kMaxVocab = 4'000'000;

// Fills pieces/kinds from the vocabulary's (piece, id) entries.
Status ReadVocab(const std::vector<std::pair<std::string, int64_t>>& vocab, TokenizerSpec& spec) {
  int64_t max_id = -1;
  for (const auto& [piece, id] : vocab) {
    if (id >= kMaxVocab) {
      return DataLoss("vocab: token '" + piece + "' has an invalid id " + std::to_string(id));
    }
    max_id = std::max(max_id, id);
  }
  spec.pieces.assign(static_cast<size_t>(max_id + 1), std::string());
  spec.kinds.assign(spec.pieces.size(), TokenKind::kUnused);
  for (const auto& [piece, id64] : vocab) {
    auto id = static_cast<size_t>(id64);
    if (spec.kinds[id] != TokenKind::kUnused) {
      return DataLoss("vocab: duplicate id " + std::to_string(id) + " for '" + spec.pieces[id] +
                      "' and '" + piece + "'");
    }
    if (piece.empty()) return DataLoss("vocab: empty token string for id " + std::to_string(id));
    spec.pieces[id] = piece;
    spec.kinds[id] = TokenKind::kNormal;
  }
  return Status::Ok();
}

// Resolves merges ("a b" strings or ["a", "b"] pairs) to token ids.
class MergeReader {
 public:
  explicit MergeReader(const TokenizerSpec& spec) {
    index_.Reserve(spec.pieces.size());
    for (size_t id = 0; id < spec.pieces.size(); ++id) {
      if (!spec.pieces[id].empty()) index_.Insert(spec.pieces[id], static_cast<TokenId>(id));
    }
  }

  Status Add(std::string_view left, std::string_view right, size_t number,
             std::vector<Merge>& out) {
    TokenId l = index_.Find(left);
    TokenId r = index_.Find(right);
    if (l < 0 || r < 0) {
      return DataLoss("merge " + std::to_string(number) + " names unknown token '" +
                      std::string(l < 0 ? left : right) + "'");
    }
    out.push_back({l, r});
    return Status::Ok();
  }

  Status AddLine(std::string_view line, size_t number, std::vector<Merge>& out) {
    size_t space = line.find(' ');
    if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos ||
        space == 0 || space + 1 == line.size()) {
      return DataLoss("merge " + std::to_string(number) + " is not two tokens separated by one " +
                      "space: '" + std::string(line.substr(0, 80)) + "'");
    }
    return Add(line.substr(0, space), line.substr(space + 1), number, out);
  }

 private:
  StringIdMap index_;
};

Status ReadJsonMerges(const std::vector<BigJsonParts::MergeEntry>& merges, TokenizerSpec& spec) {
  MergeReader reader(spec);
  spec.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const BigJsonParts::MergeEntry& m = merges[i];
    RETURN_IF_ERROR(m.pair ? reader.Add(m.first, m.second, i + 1, spec.merges)
                           : reader.AddLine(m.first, i + 1, spec.merges));
  }
  return Status::Ok();
}

// Marks an added token in the spec (growing the vocabulary if its id is past the end).
Status AddAddedToken(AddedToken token, TokenizerSpec& spec) {
  if (token.id < 0 || token.id >= kMaxVocab) {
    return DataLoss("added token '" + token.content + "' has an invalid id");
  }
  if (token.content.empty())
    return DataLoss("added token " + std::to_string(token.id) + " is empty");
  auto id = static_cast<size_t>(token.id);
  if (id >= spec.pieces.size()) {
    spec.pieces.resize(id + 1);
    spec.kinds.resize(id + 1, TokenKind::kUnused);
  }
  if (spec.kinds[id] != TokenKind::kUnused && spec.pieces[id] != token.content) {
    return DataLoss("added token '" + token.content + "' reuses id " + std::to_string(id) +
                    " of token '" + spec.pieces[id] + "'");
  }
  for (const AddedToken& t : spec.added_tokens) {
    if (t.id == token.id) return Status::Ok();  // listed twice (tokenizer.json and config): once
  }
  spec.pieces[id] = token.content;
  spec.kinds[id] = token.special ? TokenKind::kControl : TokenKind::kUserDefined;
  spec.added_tokens.push_back(std::move(token));
  return Status::Ok();
}

Result<AddedToken> ReadAddedToken(const json& j, TokenId id) {
  if (!j.is_object() || !j.contains("content") || !j["content"].is_string()) {
    return DataLoss("added token " + std::to_string(id) + " needs a string 'content'");
  }
  AddedToken t;
  t.id = id;
  t.content = j["content"].get<std::string>();
  t.special = j.value("special", false);
  t.lstrip = j.value("lstrip", false);
  t.rstrip = j.value("rstrip", false);
  return t;
}

Status ReadAddedTokensArray(const json& added, TokenizerSpec& spec) {
  if (added.is_null()) return Status::Ok();
  if (!added.is_array()) return DataLoss("added_tokens must be an array");
  for (const json& a : added) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer()) {
      return DataLoss("each added token needs an integer 'id'");
    }
    ASSIGN_OR_RETURN(AddedToken t, ReadAddedToken(a, a["id"].get<TokenId>()));
    RETURN_IF_ERROR(AddAddedToken(std::move(t), spec));
  }
  return Status::Ok();
}

Status ReadNormalizer(const json& n, TokenizerSpec& spec) {
  if (n.is_null()) return Status::Ok();
  std::string type = n.value("type", "");
  if (type == "NFC") {
    spec.nfc = true;
    return Status::Ok();
  }
  if (type == "Sequence" && n.contains("normalizers") && n["normalizers"].is_array()) {
    for (const json& inner : n["normalizers"]) RETURN_IF_ERROR(ReadNormalizer(inner, spec));
    return Status::Ok();
  }
  return Unimplemented("normalizer '" + type + "' is not supported (only NFC or none)");
}

// Accepts the byte-level shapes: ByteLevel alone (GPT-2 regex when use_regex), or a Sequence of
// Split(regex, Isolated) steps followed by ByteLevel without its own regex.
Status ReadPreTokenizer(const json& p, TokenizerSpec& spec) {
  if (p.is_null()) return Unimplemented("no pre_tokenizer (a byte-level BPE needs one)");
  std::string type = p.is_object() ? p.value("type", "") : "";
  if (type == "ByteLevel") {
    if (p.value("add_prefix_space", false)) {
      return Unimplemented("ByteLevel pre-tokenizer with add_prefix_space is not supported");
    }
    if (p.value("use_regex", true)) spec.pretokenizer_pattern = kGpt2Pattern;
    return Status::Ok();
  }
  if (type == "Split") {
    if (!spec.pretokenizer_pattern.empty()) {
      return Unimplemented("more than one Split pre-tokenizer is not supported");
    }
    const json& pat = p.value("pattern", json());
    if (!pat.is_object() || !pat.contains("Regex") || !pat["Regex"].is_string()) {
      return Unimplemented("Split pre-tokenizer needs a {\"Regex\": ...} pattern");
    }
    if (p.value("behavior", "") != "Isolated" || p.value("invert", false)) {
      return Unimplemented("Split pre-tokenizer: only behavior Isolated without invert");
    }
    spec.pretokenizer_pattern = pat["Regex"].get<std::string>();
    return Status::Ok();
  }
  if (type == "Sequence" && p.contains("pretokenizers") && p["pretokenizers"].is_array()) {
    for (const json& inner : p["pretokenizers"]) RETURN_IF_ERROR(ReadPreTokenizer(inner, spec));
    return Status::Ok();
  }
  return Unimplemented("pre-tokenizer '" + type + "' is not supported (byte-level BPE only)");
}

// A config's "eos_token" etc.: a string or {"content": ...}.
std::optional<std::string> TokenContent(const json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    return (*it)["content"].get<std::string>();
  }
  return std::nullopt;
}

std::optional<TokenId> IdOf(const TokenizerSpec& spec, const std::string& content) {
  for (const AddedToken& t : spec.added_tokens) {
    if (t.content == content) return t.id;
  }
  auto it = std::find(spec.pieces.begin(), spec.pieces.end(), content);
  if (it == spec.pieces.end()) return std::nullopt;
  return static_cast<TokenId>(it - spec.pieces.begin());
}

// tokenizer_config.json: added_tokens_decoder, special token names, add_bos_token, chat_template.
Status ApplyConfig(const json& config, TokenizerSpec& spec) {
  if (!config.is_object()) return DataLoss("tokenizer_config.json must be a JSON object");
  if (auto it = config.find("added_tokens_decoder"); it != config.end() && it->is_object()) {
    for (const auto& [key, value] : it->items()) {
      char* end = nullptr;
      long id = std::strtol(key.c_str(), &end, 10);
      if (key.empty() || *end != '\0') return DataLoss("added_tokens_decoder key '" + key + "'");
      ASSIGN_OR_RETURN(AddedToken t, ReadAddedToken(value, static_cast<TokenId>(id)));
      RETURN_IF_ERROR(AddAddedToken(std::move(t), spec));
    }
  }
  struct Named {
    const char* key;
    std::optional<TokenId>* id;
  };
  for (Named n : {Named{"bos_token", &spec.bos_id}, Named{"eos_token", &spec.eos_id},
                  Named{"pad_token", &spec.pad_id}, Named{"unk_token", &spec.unk_id}}) {
    if (auto content = TokenContent(config, n.key)) {
      *n.id = IdOf(spec, *content);
      if (!*n.id) return DataLoss(std::string(n.key) + " '" + *content + "' is not a token");
    }
  }
  if (auto it = config.find("add_bos_token"); it != config.end() && it->is_boolean()) {
    spec.add_bos = it->get<bool>();
  }
  if (auto it = config.find("chat_template"); it != config.end()) {
    if (it->is_string()) {
      spec.chat_template = it->get<std::string>();
    } else if (it->is_array()) {  // [{"name": "default", "template": ...}, ...]
      for (const json& t : *it) {
        if (t.is_object() && t.value("name", "") == "default" && t.contains("template") &&
            t["template"].is_string()) {
          spec.chat_template = t["template"].get<std::string>();
        }
      }
    }
  }
  return Status::Ok();
}

Result<json> ParseConfig(std::string_view config_json, const std::string& source) {
  if (config_json.empty()) return json::object();
  return formats::ParseJson(config_json, source + "/tokenizer_config.json");
}

}  // namespace

Result<TokenizerSpec> SpecFromHfTokenizerJson(std::string_view json_text,
                                              std::string_view config_json,
                                              const std::string& source) {
  ASSIGN_OR_RETURN(BigJsonParts parts,
                   ParseBigJson(json_text, source, {"model", "vocab"}, {"model", "merges"}));
  ASSIGN_OR_RETURN(json config, ParseConfig(config_json, source));
  const json& root = parts.rest;
  if (!root.is_object() || !root.contains("model") || !root["model"].is_object()) {
    return DataLoss(source + ": no 'model' object (is this a tokenizer.json?)");
  }
  std::string type = root["model"].value("type", "BPE");
  if (type != "BPE") {
    return Unimplemented(source + ": model type '" + type + "' is not supported (BPE only)");
  }
  if (!parts.has_vocab) return DataLoss(source + ": no model.vocab object");
  TokenizerSpec spec;
  spec.source = source;
  Status s = ReadVocab(parts.vocab, spec);
  if (s.ok()) s = ReadJsonMerges(parts.merges, spec);
  if (s.ok()) s = ReadAddedTokensArray(root.value("added_tokens", json()), spec);
  if (s.ok()) s = ReadNormalizer(root.value("normalizer", json()), spec);
  if (s.ok()) s = ReadPreTokenizer(root.value("pre_tokenizer", json()), spec);
  if (s.ok() && spec.pretokenizer_pattern.empty()) {
    s = Unimplemented("no byte-level pre-tokenizer found");
  }
  if (s.ok()) s = ApplyConfig(config, spec).WithContext("tokenizer_config.json");
  if (!s.ok()) return s.WithContext(source);
  return spec;
}

Result<TokenizerSpec> SpecFromVocabAndMerges(std::string_view vocab_json, std::string_view merges,
                                             std::string_view config_json,
                                             const std::string& source) {
  ASSIGN_OR_RETURN(BigJsonParts vocab, ParseBigJson(vocab_json, source + "/vocab.json", {}, {"-"}));
  ASSIGN_OR_RETURN(json config, ParseConfig(config_json, source));
  TokenizerSpec spec;
  spec.source = source;
  if (config_json.empty()) {
    return NotFound(source +
                    ": vocab.json and merges.txt need tokenizer_config.json beside them; " +
                    "its tokenizer_class (Qwen2Tokenizer, GPT2Tokenizer) names the pre-tokenizer");
  }
  std::string cls = config.is_object() ? config.value("tokenizer_class", "") : "";
  if (cls == "Qwen2Tokenizer" || cls == "Qwen2TokenizerFast") {
    spec.pretokenizer_pattern = kQwen2Pattern;
    spec.nfc = true;
  } else if (cls == "GPT2Tokenizer" || cls == "GPT2TokenizerFast") {
    spec.pretokenizer_pattern = kGpt2Pattern;
  } else {
    return Unimplemented(source + ": tokenizer_class '" + cls + "' in tokenizer_config.json is " +
                         "not one whose pre-tokenizer is known (Qwen2Tokenizer, GPT2Tokenizer); " +
                         "use tokenizer.json instead");
  }
  if (!vocab.has_vocab) return DataLoss(source + "/vocab.json: expected an object of token -> id");
  Status s = ReadVocab(vocab.vocab, spec).WithContext("vocab.json");
  if (s.ok()) {
    MergeReader reader(spec);
    size_t number = 0;
    for (size_t pos = 0; pos < merges.size() && s.ok();) {
      size_t eol = merges.find('\n', pos);
      if (eol == std::string_view::npos) eol = merges.size();
      std::string_view line = merges.substr(pos, eol - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      pos = eol + 1;
      if (line.empty() || (number == 0 && line.rfind("#version", 0) == 0)) continue;
      s = reader.AddLine(line, ++number, spec.merges).WithContext("merges.txt");
    }
  }
  if (s.ok()) s = ApplyConfig(config, spec).WithContext("tokenizer_config.json");
  if (!s.ok()) return s.WithContext(source);
  return spec;
}

}  // namespace medassist::tokenizer
