#include "tokenizer/spm.h"

#include <queue>

#include "tokenizer/unicode.h"

namespace medassist::tokenizer {

Result<SpmModel> SpmModel::Build(const std::vector<std::string>& pieces,
                                 const std::vector<float>& scores,
                                 const std::array<TokenId, 256>& byte_tokens, TokenId unk_id) {
  if (scores.size() != pieces.size()) {
    return DataLoss("SentencePiece vocabulary has " + std::to_string(pieces.size()) +
                    " tokens but " + std::to_string(scores.size()) + " scores");
  }
  SpmModel m;
  m.index_.Reserve(pieces.size());
  for (size_t id = 0; id < pieces.size(); ++id) {
    if (!pieces[id].empty()) m.index_.Insert(pieces[id], static_cast<TokenId>(id));
  }
  m.scores_ = &scores;
  m.byte_tokens_ = byte_tokens;
  m.unk_id_ = unk_id;
  return m;
}

void SpmModel::EmitSymbol(std::string_view symbol, std::vector<TokenId>& out) const {
  TokenId id = index_.Find(symbol);
  if (id >= 0) {
    out.push_back(id);
    return;
  }
  for (char c : symbol) {  // byte fallback
    TokenId b = byte_tokens_[static_cast<uint8_t>(c)];
    if (b >= 0) {
      out.push_back(b);
    } else if (unk_id_ >= 0) {
      out.push_back(unk_id_);
    }
  }
}

void SpmModel::Encode(std::string_view text, bool add_space_prefix,
                      std::vector<TokenId>& out) const {
  std::string s;
  s.reserve(text.size() * 2 + 3);
  if (add_space_prefix) s.append(kSpmSpace);
  for (char c : text) {
    if (c == ' ') {
      s.append(kSpmSpace);
    } else {
      s.push_back(c);
    }
  }
  // One symbol per UTF-8 character (an invalid byte is a symbol of its own).
  struct Symbol {
    size_t start;
    size_t len;
    int32_t prev;
    int32_t next;
  };
  std::vector<Symbol> sym;
  for (size_t i = 0; i < s.size();) {
    size_t len = DecodeUtf8(s, i).len;
    auto idx = static_cast<int32_t>(sym.size());
    sym.push_back({i, len, idx - 1, -1});
    if (idx > 0) sym[idx - 1].next = idx;
    i += len;
  }
  struct Bigram {
    float score;
    int32_t left;
    size_t len;  // joined length when pushed: a stale entry no longer matches
    bool operator<(const Bigram& o) const {  // max-heap by score, then leftmost
      return score != o.score ? score < o.score : left > o.left;
    }
  };
  std::priority_queue<Bigram> heap;
  auto push = [&](int32_t left) {
    if (left < 0 || sym[left].next < 0) return;
    const Symbol& a = sym[left];
    const Symbol& b = sym[a.next];
    TokenId id = index_.Find(std::string_view(s).substr(a.start, a.len + b.len));
    if (id >= 0) heap.push({(*scores_)[id], left, a.len + b.len});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i) push(i);
  while (!heap.empty()) {
    Bigram bg = heap.top();
    heap.pop();
    Symbol& a = sym[bg.left];
    if (a.len == 0 || a.next < 0 || a.len + sym[a.next].len != bg.len) continue;  // stale
    Symbol& b = sym[a.next];
    a.len += b.len;
    b.len = 0;
    a.next = b.next;
    if (a.next >= 0) sym[a.next].prev = bg.left;
    push(a.prev);
    push(bg.left);
  }
  for (int32_t i = sym.empty() ? -1 : 0; i >= 0; i = sym[i].next) {
    EmitSymbol(std::string_view(s).substr(sym[i].start, sym[i].len), out);
  }
}

}  // namespace medassist::tokenizer
