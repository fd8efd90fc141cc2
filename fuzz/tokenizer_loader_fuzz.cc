// libFuzzer target: the Hugging Face tokenizer loaders on arbitrary bytes, read as a tokenizer.json
// and as a vocab.json (with a fixed merges.txt and a Qwen2 tokenizer_config.json). Either the
// loader refuses with a Status or Tokenizer::Create builds a tokenizer, which then must encode a
// fixed sample to valid ids that decode back to the sample (when nothing in the files rewrites
// text: no NFC, no lstrip/rstrip added tokens). Crashes, sanitizer reports and a broken round trip
// trap.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/loaders.h"
#include "tokenizer/tokenizer.h"

namespace {

using medassist::Result;
using medassist::tokenizer::AddedToken;
using medassist::tokenizer::SpecFromHfTokenizerJson;
using medassist::tokenizer::SpecFromVocabAndMerges;
using medassist::tokenizer::TokenId;
using medassist::tokenizer::Tokenizer;
using medassist::tokenizer::TokenizerSpec;

constexpr size_t kMaxInputBytes = 1 << 20;

constexpr std::string_view kMerges = "#version: 0.2\na a\n\xC4\xA0 a\nt h\nth e\n";
constexpr std::string_view kQwenConfig =
    R"({"tokenizer_class": "Qwen2Tokenizer", "added_tokens_decoder":
        {"300": {"content": "<|end|>", "special": true}}, "eos_token": "<|end|>"})";
constexpr std::string_view kSample =
    "The patient's BP is 140/90 mmHg\n\n  caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 <|end|> aaa\xFF";

void Exercise(Result<TokenizerSpec> spec) {
  if (!spec.ok()) return;
  bool rewrites_text = false;  // kSample is NFC already, so only stripping changes it
  for (const AddedToken& t : spec->added_tokens) rewrites_text |= t.lstrip || t.rstrip;
  Result<Tokenizer> tok = Tokenizer::Create(std::move(spec).value());
  if (!tok.ok()) return;
  for (bool parse_special : {false, true}) {
    std::vector<TokenId> ids = tok->Encode(kSample, {.parse_special = parse_special});
    for (TokenId id : ids) {
      if (!tok->IsValidId(id)) __builtin_trap();
    }
    std::string decoded = tok->Decode(ids);
    if (!rewrites_text && decoded != kSample) __builtin_trap();
  }
  for (TokenId id = -1; id <= tok->vocab_size() && id < 4096; ++id) {
    (void)tok->TokenBytes(id);
    (void)tok->FindToken(tok->TokenPiece(id));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInputBytes) return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Exercise(SpecFromHfTokenizerJson(bytes, "", "fuzz/tokenizer.json"));
  Exercise(SpecFromVocabAndMerges(bytes, kMerges, kQwenConfig, "fuzz"));
  return 0;
}
