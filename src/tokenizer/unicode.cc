#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <vector>

namespace medassist::tokenizer {
namespace {

constexpr std::array<CharClass, 128> MakeAsciiClasses() {
  std::array<CharClass, 128> t{};
  for (int c = 0; c < 128; ++c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      t[c] = kClassLetter;
    } else if (c >= '0' && c <= '9') {
      t[c] = kClassNumber;
    } else if (c == ' ' || (c >= 0x09 && c <= 0x0D)) {
      t[c] = kClassSpace;
    } else {
      t[c] = kClassOther;
    }
  }
  return t;
}
constexpr std::array<CharClass, 128> kAsciiClasses = MakeAsciiClasses();

// Unicode White_Space beyond ASCII (PropList.txt): what \s matches in Oniguruma (Hugging Face
// tokenizers in Python), PCRE2 with UCP and llama.cpp.
bool IsNonAsciiWhiteSpace(uint32_t cp) {
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// Length of the maximal invalid subsequence at text[pos] (as defined by Unicode for U+FFFD
// substitution): a lead byte followed by as many valid continuation bytes as it allows.
size_t InvalidRunLength(std::string_view text, size_t pos) {
  auto b = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  uint8_t c = b(pos);
  size_t need;
  uint8_t lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 1;
  }
  size_t n = 1;
  for (size_t k = 0; k < need && pos + n < text.size(); ++k) {
    uint8_t cc = b(pos + n);
    bool ok = (k == 0) ? (cc >= lo && cc <= hi) : (cc >= 0x80 && cc <= 0xBF);
    if (!ok) break;
    ++n;
  }
  return n;
}

// Characters with a canonical decomposition that NFC composes back to themselves (é, ü, и́...), as
// opposed to singletons and excluded compositions (U+212B ANGSTROM SIGN -> U+00C5). utf8proc has no
// NFC_Quick_Check property, so ask utf8proc itself, once, for the ~2,000 such characters.
const std::vector<uint32_t>& NfcStableComposites() {
  static const std::vector<uint32_t> stable = [] {
    std::vector<uint32_t> out;
    for (uint32_t cp = 0x80; cp <= 0x10FFFF; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
      if (p->decomp_seqindex == UINT16_MAX || p->decomp_type != 0) continue;
      std::string one;
      AppendUtf8(cp, one);
      utf8proc_uint8_t* nfc = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(one.c_str()));
      if (nfc != nullptr && one == reinterpret_cast<const char*>(nfc)) out.push_back(cp);
      std::free(nfc);
    }
    return out;
  }();
  return stable;
}

// True when a character cannot change under NFC and cannot combine with the character before it:
// no combining class, not the second half of a canonical composition (utf8proc marks those with
// comb_index >= 0x8000), not a Hangul jamo, and either no canonical decomposition or one that NFC
// composes back. A character that may combine with the one *after* it needs no flag: that next
// character is flagged itself.
bool IsNfcInert(uint32_t cp) {
  if (cp < 0x80) return true;
  if (cp >= 0x1100 && cp <= 0x11FF) return false;
  const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
  if (p->combining_class != 0) return false;
  if (p->comb_index != UINT16_MAX && p->comb_index >= 0x8000) return false;
  if (p->decomp_seqindex != UINT16_MAX && p->decomp_type == 0) {
    const std::vector<uint32_t>& stable = NfcStableComposites();
    return std::binary_search(stable.begin(), stable.end(), cp);
  }
  return true;
}

void AppendNfc(std::string_view valid, std::string& out) {
  utf8proc_uint8_t* mapped = nullptr;
  utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(valid.data()),
                   static_cast<utf8proc_ssize_t>(valid.size()), &mapped,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) {  // cannot happen on valid input; keep the text rather than lose it
    out.append(valid);
  } else {
    out.append(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n));
  }
  std::free(mapped);
}

}  // namespace

CodePoint DecodeUtf8(std::string_view text, size_t pos) {
  auto b = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  uint8_t c = b(pos);
  if (c < 0x80) return {c, 1};
  size_t left = text.size() - pos;
  if (c >= 0xC2 && c <= 0xDF) {
    if (left >= 2 && (b(pos + 1) & 0xC0) == 0x80) {
      return {(uint32_t{c} & 0x1F) << 6 | (b(pos + 1) & 0x3F), 2};
    }
  } else if (c >= 0xE0 && c <= 0xEF) {
    if (left >= 3 && (b(pos + 1) & 0xC0) == 0x80 && (b(pos + 2) & 0xC0) == 0x80) {
      uint32_t cp = (uint32_t{c} & 0x0F) << 12 | (b(pos + 1) & 0x3Fu) << 6 | (b(pos + 2) & 0x3F);
      if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) return {cp, 3};
    }
  } else if (c >= 0xF0 && c <= 0xF4) {
    if (left >= 4 && (b(pos + 1) & 0xC0) == 0x80 && (b(pos + 2) & 0xC0) == 0x80 &&
        (b(pos + 3) & 0xC0) == 0x80) {
      uint32_t cp = (uint32_t{c} & 0x07) << 18 | (b(pos + 1) & 0x3Fu) << 12 |
                    (b(pos + 2) & 0x3Fu) << 6 | (b(pos + 3) & 0x3F);
      if (cp >= 0x10000 && cp <= 0x10FFFF) return {cp, 4};
    }
  }
  return {kInvalidCodePoint, 1};
}

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

CharClass ClassOf(uint32_t cp) {
  if (cp < 0x80) return kAsciiClasses[cp];
  if (cp == kInvalidCodePoint) return kClassOther;
  if (IsNonAsciiWhiteSpace(cp)) return kClassSpace;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return kClassLetter;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return kClassNumber;
    default:
      return kClassOther;
  }
}

bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    if (static_cast<uint8_t>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    CodePoint c = DecodeUtf8(text, i);
    if (c.cp == kInvalidCodePoint) return false;
    i += c.len;
  }
  return true;
}

void PrepareNfcTables() { (void)NfcStableComposites(); }

bool NormalizeNfc(std::string_view text, std::string& out) {
  bool inert = true;
  for (size_t i = 0; i < text.size() && inert;) {
    if (static_cast<uint8_t>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    CodePoint c = DecodeUtf8(text, i);
    inert = c.cp == kInvalidCodePoint || IsNfcInert(c.cp);
    i += c.len;
  }
  if (inert) return false;
  // Normalize each maximal valid run; invalid bytes pass through untouched (utf8proc needs valid
  // input, and we never drop bytes).
  out.clear();
  out.reserve(text.size() + text.size() / 8);
  size_t run_start = 0;
  for (size_t i = 0; i < text.size();) {
    CodePoint c = DecodeUtf8(text, i);
    if (c.cp == kInvalidCodePoint) {
      AppendNfc(text.substr(run_start, i - run_start), out);
      out.push_back(text[i]);
      run_start = i + 1;
    }
    i += c.len;
  }
  AppendNfc(text.substr(run_start), out);
  return true;
}

std::string RepairUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    CodePoint c = DecodeUtf8(bytes, i);
    if (c.cp != kInvalidCodePoint) {
      out.append(bytes.substr(i, c.len));
      i += c.len;
    } else {
      out.append("\xEF\xBF\xBD");
      i += InvalidRunLength(bytes, i);
    }
  }
  return out;
}

size_t CompleteUtf8Prefix(std::string_view bytes) {
  // Look back at most 3 bytes for a lead byte whose sequence is valid so far but incomplete.
  size_t n = bytes.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    size_t pos = n - back;
    uint8_t c = static_cast<uint8_t>(bytes[pos]);
    if ((c & 0xC0) == 0x80) continue;    // continuation byte: keep looking for its lead
    if (c < 0xC2 || c > 0xF4) return n;  // ASCII or a byte that never starts a sequence
    size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (back >= need) return n;  // the sequence is complete (valid or not, it is final)
    // Incomplete: hold it back only if what we have so far could still become valid.
    return InvalidRunLength(bytes, pos) == back ? pos : n;
  }
  return n;
}

}  // namespace medassist::tokenizer
