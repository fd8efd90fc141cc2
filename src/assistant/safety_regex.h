// A compiled PCRE2 regular expression for the red-flag rules: case-insensitive, UTF-8, Unicode
// classes. Copies share the compiled code (read-only, so one Regex may be used from many threads;
// each call makes its own match data).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace medassist::assistant {

struct RegexMatch {
  size_t begin = 0;  // byte offsets into the searched text
  size_t end = 0;
};

class SafetyRegex {
 public:
  // InvalidArgument naming the offset and PCRE2's reason when the pattern does not compile.
  static Result<SafetyRegex> Compile(std::string_view pattern);

  SafetyRegex() = default;

  bool valid() const { return code_ != nullptr; }
  const std::string& pattern() const { return pattern_; }
  // The number of capture groups (for checking $N in replacements).
  int capture_count() const;

  // Whether the pattern matches anywhere in text.
  bool Contains(std::string_view text) const;
  // All non-overlapping matches, left to right (empty matches are skipped).
  std::vector<RegexMatch> FindAll(std::string_view text) const;
  // text with every match replaced; replacement may use $1 / ${1} (unset groups give "").
  // InvalidArgument when PCRE2 refuses the replacement.
  Result<std::string> ReplaceAll(std::string_view text, std::string_view replacement) const;

 private:
  struct Code;
  std::shared_ptr<const Code> code_;
  std::string pattern_;
};

}  // namespace medassist::assistant
