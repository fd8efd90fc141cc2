// libFuzzer target: the hand-written Qwen2 pre-tokenizer against PCRE2 running the same regex.
// The pieces must be equal, after replacing on PCRE2's side the characters the two classify
// differently on purpose (invalid bytes, code points of differing Unicode versions, U+180E; see
// tests/tokenizer/split_reference.h). Also: every pattern's pieces cover the input exactly, and
// NormalizeNfc equals utf8proc's full NFC on valid UTF-8. Any difference traps.
#include <utf8proc.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "split_reference.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"

namespace {

using medassist::tokenizer::IsValidUtf8;
using medassist::tokenizer::kGpt2Pattern;
using medassist::tokenizer::kLlama3Pattern;
using medassist::tokenizer::kQwen2Pattern;
using medassist::tokenizer::NormalizeNfc;
using medassist::tokenizer::PreTokenizer;
namespace reference = medassist::tokenizer::testing;

constexpr size_t kMaxInputBytes = 16 * 1024;

const PreTokenizer& Compiled(const char* pattern) {
  auto r = PreTokenizer::FromPattern(pattern);
  if (!r.ok()) std::abort();
  return *new PreTokenizer(std::move(r).value());
}

void CheckCovers(const std::vector<std::string_view>& pieces, std::string_view text) {
  size_t covered = 0;
  for (std::string_view p : pieces) {
    if (p.empty() || p.data() != text.data() + covered) __builtin_trap();
    covered += p.size();
  }
  if (covered != text.size()) __builtin_trap();
}

void CheckNfc(std::string_view text) {
  if (!IsValidUtf8(text)) return;
  utf8proc_uint8_t* mapped = nullptr;
  utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &mapped,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) __builtin_trap();
  std::string expected(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n));
  std::free(mapped);
  std::string out;
  if ((NormalizeNfc(text, out) ? out : std::string(text)) != expected) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInputBytes) return 0;
  static const PreTokenizer& qwen2 = Compiled(kQwen2Pattern);
  static const PreTokenizer& gpt2 = Compiled(kGpt2Pattern);
  static const PreTokenizer& llama3 = Compiled(kLlama3Pattern);
  static reference::PcreClassTable* classes = new reference::PcreClassTable;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  std::vector<std::string_view> fast;
  qwen2.Split(text, fast);
  CheckCovers(fast, text);
  std::vector<std::string_view> expected = reference::ReferenceSplit(qwen2, text, *classes);
  if (fast.size() != expected.size()) __builtin_trap();
  for (size_t i = 0; i < fast.size(); ++i) {
    if (fast[i].data() != expected[i].data() || fast[i].size() != expected[i].size()) {
      __builtin_trap();
    }
  }
  std::vector<std::string_view> pieces;
  for (const PreTokenizer* p : {&qwen2, &gpt2, &llama3}) {
    p->SplitWithRegex(text, pieces);
    CheckCovers(pieces, text);
  }
  CheckNfc(text);
  return 0;
}
