// libFuzzer target: the real Qwen2.5 tokenizer (../shared/data/qwen-tokenizer, loaded once through
// Tokenizer::Load) on arbitrary bytes, with parse_special off and on. Every id must be valid,
// untrusted text (parse_special off) must never yield a control token, and byte-level BPE must
// give the bytes back: Decode(Encode(x)) == x, after NFC of the stretches between added tokens
// (which the tokenizer applies, as Hugging Face does). Any failure traps.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace {

using medassist::tokenizer::AddedTokenMatcher;
using medassist::tokenizer::Fragment;
using medassist::tokenizer::NormalizeNfc;
using medassist::tokenizer::TokenId;
using medassist::tokenizer::Tokenizer;
using medassist::tokenizer::TokenKind;

constexpr size_t kMaxInputBytes = 64 * 1024;

const Tokenizer& Qwen() {
  static const Tokenizer* t = [] {
    auto r = Tokenizer::Load(MEDASSIST_SHARED_DATA_DIR "/qwen-tokenizer");
    if (!r.ok()) {
      std::fprintf(stderr, "cannot load the Qwen tokenizer: %s\n", r.status().ToString().c_str());
      std::abort();
    }
    return new Tokenizer(std::move(r).value());
  }();
  return *t;
}

// What Decode(Encode(text)) must be: added tokens as their text, the stretches between in NFC.
std::string ExpectedRoundTrip(std::string_view text, bool parse_special) {
  static const AddedTokenMatcher matcher(Qwen().added_tokens());
  std::vector<Fragment> fragments;
  matcher.Split(text, parse_special, fragments);
  std::string out, nfc;
  for (const Fragment& f : fragments) {
    if (f.token >= 0) {
      out += Qwen().TokenBytes(f.token);
    } else {
      out += NormalizeNfc(f.text, nfc) ? std::string_view(nfc) : f.text;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInputBytes) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool parse_special : {false, true}) {
    std::vector<TokenId> ids = Qwen().Encode(text, {.parse_special = parse_special});
    for (TokenId id : ids) {
      if (!Qwen().IsValidId(id)) __builtin_trap();
      if (!parse_special && Qwen().Kind(id) == TokenKind::kControl) __builtin_trap();
    }
    if (Qwen().Decode(ids) != ExpectedRoundTrip(text, parse_special)) __builtin_trap();
    // EncodeAppend appends exactly what Encode returns.
    std::vector<TokenId> appended = {7};
    Qwen().EncodeAppend(text, {.parse_special = parse_special}, appended);
    if (appended.size() != ids.size() + 1 ||
        !std::equal(ids.begin(), ids.end(), appended.begin() + 1)) {
      __builtin_trap();
    }
  }
  return 0;
}
