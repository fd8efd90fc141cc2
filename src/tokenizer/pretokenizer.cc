#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace medassist::tokenizer {

const char* const kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct PreTokenizer::Regex {
  pcre2_code* code = nullptr;
  ~Regex() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

Result<PreTokenizer> PreTokenizer::FromPattern(const std::string& pattern) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  // UCP: \s, \p{L} and friends follow Unicode; MATCH_INVALID_UTF: invalid bytes never match a
  // character class, and never make matching fail (we keep them, as gap pieces).
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error_code,
                                   &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof message);
    return InvalidArgument("pre-tokenizer regex does not compile at offset " +
                           std::to_string(error_offset) + ": " +
                           reinterpret_cast<const char*>(message));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // without JIT PCRE2 still matches, only slower
  PreTokenizer p;
  p.pattern_ = pattern;
  p.qwen2_fast_ = pattern == kQwen2Pattern;
  p.regex_ = std::make_unique<Regex>();
  p.regex_->code = code;
  return p;
}

void PreTokenizer::Split(std::string_view text, std::vector<std::string_view>& pieces) const {
  if (!qwen2_fast_) {
    SplitWithRegex(text, pieces);
    return;
  }
  pieces.clear();
  for (size_t pos = 0; pos < text.size();) {
    size_t n = Qwen2MatchLength(text, pos);
    pieces.push_back(text.substr(pos, n));
    pos += n;
  }
}

void PreTokenizer::SplitWithRegex(std::string_view text,
                                  std::vector<std::string_view>& pieces) const {
  pieces.clear();
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(regex_->code, nullptr);
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  size_t gap_start = 0;
  while (pos < text.size()) {
    int rc = pcre2_match(regex_->code, subject, text.size(), pos, 0, md, nullptr);
    if (rc < 0) break;  // no more matches (or a matcher limit): the rest becomes one gap piece
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t start = ov[0];
    size_t end = ov[1];
    if (start > gap_start) pieces.push_back(text.substr(gap_start, start - gap_start));
    if (end == start) {
      // An empty match cannot make progress: step over one byte (it joins the next gap).
      pos = start + 1;
      gap_start = start;
      continue;
    }
    pieces.push_back(text.substr(start, end - start));
    pos = end;
    gap_start = end;
  }
  if (gap_start < text.size()) pieces.push_back(text.substr(gap_start));
  pcre2_match_data_free(md);
}

}  // namespace medassist::tokenizer
