#include "assistant/safety_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace medassist::assistant {

struct SafetyRegex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

namespace {

PCRE2_SPTR Subject(std::string_view text) { return reinterpret_cast<PCRE2_SPTR>(text.data()); }

// Owns the match data of one search.
class MatchData {
 public:
  explicit MatchData(const pcre2_code* code)
      : data_(pcre2_match_data_create_from_pattern(code, nullptr)) {
    CHECK(data_ != nullptr) << "out of memory for PCRE2 match data";
  }
  ~MatchData() { pcre2_match_data_free(data_); }
  MatchData(const MatchData&) = delete;
  MatchData& operator=(const MatchData&) = delete;
  pcre2_match_data* get() const { return data_; }

 private:
  pcre2_match_data* data_;
};

}  // namespace

Result<SafetyRegex> SafetyRegex::Compile(std::string_view pattern) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  // MATCH_INVALID_UTF: a message with invalid UTF-8 is still searched; bad bytes never match.
  pcre2_code* code = pcre2_compile(Subject(pattern), pattern.size(),
                                   PCRE2_CASELESS | PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF,
                                   &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof message);
    return InvalidArgument("regex does not compile at offset " + std::to_string(error_offset) +
                           ": " + reinterpret_cast<const char*>(message));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // without JIT PCRE2 still matches, only slower
  auto owned = std::make_shared<Code>();
  owned->code = code;
  SafetyRegex regex;
  regex.code_ = std::move(owned);
  regex.pattern_ = std::string(pattern);
  return regex;
}

int SafetyRegex::capture_count() const {
  uint32_t count = 0;
  pcre2_pattern_info(code_->code, PCRE2_INFO_CAPTURECOUNT, &count);
  return static_cast<int>(count);
}

bool SafetyRegex::Contains(std::string_view text) const {
  MatchData md(code_->code);
  return pcre2_match(code_->code, Subject(text), text.size(), 0, 0, md.get(), nullptr) >= 0;
}

std::vector<RegexMatch> SafetyRegex::FindAll(std::string_view text) const {
  std::vector<RegexMatch> matches;
  MatchData md(code_->code);
  size_t pos = 0;
  while (pos <= text.size()) {
    int rc = pcre2_match(code_->code, Subject(text), text.size(), pos, 0, md.get(), nullptr);
    if (rc < 0) break;  // no more matches, or a matcher limit: stop either way
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    if (ov[1] > ov[0]) matches.push_back({ov[0], ov[1]});
    // An empty match cannot make progress: step over one byte (MATCH_INVALID_UTF allows it).
    pos = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
  }
  return matches;
}

Result<std::string> SafetyRegex::ReplaceAll(std::string_view text,
                                            std::string_view replacement) const {
  const uint32_t options =
      PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_UNSET_EMPTY | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH;
  // Replacements in the rules are short: most texts fit in twice their size plus some slack.
  std::string out(text.size() * 2 + 64, '\0');
  for (int attempt = 0; attempt < 2; ++attempt) {
    PCRE2_SIZE out_size = out.size();
    int rc = pcre2_substitute(code_->code, Subject(text), text.size(), 0, options, nullptr, nullptr,
                              Subject(replacement), replacement.size(),
                              reinterpret_cast<PCRE2_UCHAR*>(out.data()), &out_size);
    if (rc >= 0) {
      out.resize(out_size);
      return out;
    }
    if (rc != PCRE2_ERROR_NOMEMORY) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof message);
      return InvalidArgument(std::string("replacement \"") + std::string(replacement) +
                             "\" is refused: " + reinterpret_cast<const char*>(message));
    }
    out.resize(out_size);  // OVERFLOW_LENGTH: out_size is now the length needed
  }
  return Internal("regex replacement did not fit after resizing");
}

}  // namespace medassist::assistant
