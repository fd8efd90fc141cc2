#include "tokenizer/added_tokens.h"

#include <algorithm>
#include <cstring>

#include "tokenizer/unicode.h"

namespace medassist::tokenizer {
namespace {

bool IsSpaceAt(std::string_view text, size_t pos, size_t* len) {
  CodePoint c = DecodeUtf8(text, pos);
  *len = c.len;
  return ClassOf(c.cp) == kClassSpace;
}

// Start of the whitespace run that ends at end (for lstrip).
size_t StripLeft(std::string_view text, size_t begin, size_t end) {
  while (end > begin) {
    size_t start = end - 1;
    while (start > begin && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
    size_t len;
    if (!IsSpaceAt(text, start, &len) || start + len != end) break;
    end = start;
  }
  return end;
}

size_t StripRight(std::string_view text, size_t pos) {
  size_t len;
  while (pos < text.size() && IsSpaceAt(text, pos, &len)) pos += len;
  return pos;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(const std::vector<AddedToken>& tokens) {
  for (const AddedToken& t : tokens) {
    if (t.content.empty()) continue;
    entries_.push_back({t.content, t.id, t.special, t.lstrip, t.rstrip});
    first_byte_[static_cast<uint8_t>(t.content[0])] = true;
  }
  std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    if (a.content[0] != b.content[0]) return a.content[0] < b.content[0];
    return a.content.size() > b.content.size();
  });
}

const AddedTokenMatcher::Entry* AddedTokenMatcher::MatchAt(std::string_view text, size_t pos,
                                                           bool parse_special) const {
  char first = text[pos];
  auto it = std::lower_bound(entries_.begin(), entries_.end(), first,
                             [](const Entry& e, char c) { return e.content[0] < c; });
  for (; it != entries_.end() && it->content[0] == first; ++it) {
    if (it->special && !parse_special) continue;
    if (text.compare(pos, it->content.size(), it->content) == 0) return &*it;
  }
  return nullptr;
}

void AddedTokenMatcher::Split(std::string_view text, bool parse_special,
                              std::vector<Fragment>& out) const {
  out.clear();
  size_t text_start = 0;  // start of the pending plain text
  for (size_t pos = 0; pos < text.size();) {
    if (!first_byte_[static_cast<uint8_t>(text[pos])]) {
      ++pos;
      continue;
    }
    const Entry* e = MatchAt(text, pos, parse_special);
    if (e == nullptr) {
      ++pos;
      continue;
    }
    size_t text_end = e->lstrip ? StripLeft(text, text_start, pos) : pos;
    if (text_end > text_start) out.push_back({text.substr(text_start, text_end - text_start), -1});
    out.push_back({{}, e->id});
    pos += e->content.size();
    if (e->rstrip) pos = StripRight(text, pos);
    text_start = pos;
  }
  if (text_start < text.size()) out.push_back({text.substr(text_start), -1});
}

}  // namespace medassist::tokenizer
