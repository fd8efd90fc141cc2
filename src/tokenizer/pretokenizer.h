// Pre-tokenization: splitting text into the pieces that BPE encodes independently, by the regex
// that the tokenizer file names (Hugging Face Split with "Isolated" behaviour: matches and the gaps
// between them are all pieces, in order, covering the text exactly).
//
// Regexes run on PCRE2 (JIT). Qwen2's regex, the one this project serves, also has a hand-written
// matcher that gives identical pieces (tested against PCRE2) several times faster.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace medassist::tokenizer {

// The regexes of the known byte-level BPE families (tokenizer.json Split patterns, GGUF
// tokenizer.ggml.pre names).
extern const char* const kQwen2Pattern;
extern const char* const kGpt2Pattern;
extern const char* const kLlama3Pattern;

class PreTokenizer {
 public:
  // Compiles pattern; fails with a clear message if PCRE2 refuses it.
  static Result<PreTokenizer> FromPattern(const std::string& pattern);

  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  // Replaces pieces with the pieces of text (views into text). Thread-safe.
  void Split(std::string_view text, std::vector<std::string_view>& pieces) const;
  // Same, always through PCRE2 (the reference the fast matcher is tested against).
  void SplitWithRegex(std::string_view text, std::vector<std::string_view>& pieces) const;

  const std::string& pattern() const { return pattern_; }
  bool has_fast_path() const { return qwen2_fast_; }

 private:
  struct Regex;
  PreTokenizer() = default;
  std::string pattern_;
  bool qwen2_fast_ = false;
  std::unique_ptr<Regex> regex_;
};

// The hand-written matcher for kQwen2Pattern: the length in bytes of the match at text[pos].
size_t Qwen2MatchLength(std::string_view text, size_t pos);

}  // namespace medassist::tokenizer
