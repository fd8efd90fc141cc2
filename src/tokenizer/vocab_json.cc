#include "tokenizer/vocab_json.h"

#include "formats/json_util.h"

namespace medassist::tokenizer {
namespace {

using nlohmann::json;

// Forwards SAX events to nlohmann's DOM builder, except inside the vocab object and the merges
// array, whose contents it collects itself (the DOM gets a null in their place).
class Collector {
 public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  Collector(BigJsonParts& out, const std::vector<std::string>& vocab_path,
            const std::vector<std::string>& merges_path)
      : out_(out), dom_(out.rest, false), vocab_path_(vocab_path), merges_path_(merges_path) {}

  bool null() {
    return Scalar([&] { return dom_.null(); }, -1);
  }
  bool boolean(bool v) {
    return Scalar([&] { return dom_.boolean(v); }, -1);
  }
  bool number_integer(number_integer_t v) {
    return Scalar([&] { return dom_.number_integer(v); }, v);
  }
  bool number_unsigned(number_unsigned_t v) {
    return Scalar([&] { return dom_.number_unsigned(v); },
                  v > static_cast<number_unsigned_t>(INT64_MAX) ? -1 : static_cast<int64_t>(v));
  }
  bool number_float(number_float_t v, const string_t& s) {
    return Scalar([&] { return dom_.number_float(v, s); }, -1);
  }
  bool binary(binary_t& v) {
    return Scalar([&] { return dom_.binary(v); }, -1);
  }

  bool string(string_t& s) {
    if (mode_ == Mode::kMerges && depth_ == collect_depth_) {  // "a b"
      out_.merges.push_back({std::move(s), {}, false});
      return true;
    }
    if (mode_ == Mode::kMerges) {  // inside ["a", "b"]
      auto& m = out_.merges.back();
      if (pair_index_ == 0) {
        m.first = std::move(s);
      } else if (pair_index_ == 1) {
        m.second = std::move(s);
      }
      ++pair_index_;
      return true;
    }
    return Scalar([&] { return dom_.string(s); }, -1);
  }

  bool start_object(std::size_t n) {
    if (mode_ != Mode::kNone) return Fail("unexpected object inside the vocabulary or merges");
    ++depth_;
    if (OpeningPath(vocab_path_)) return Begin(Mode::kVocab, &out_.has_vocab);
    if (OpeningPath(merges_path_)) return Fail("merges must be an array");
    path_.emplace_back();
    return dom_.start_object(n);
  }
  bool key(string_t& k) {
    if (mode_ == Mode::kVocab) {
      pending_key_ = std::move(k);
      return true;
    }
    path_.back() = k;
    return dom_.key(k);
  }
  bool end_object() {
    --depth_;
    if (mode_ == Mode::kVocab) {
      mode_ = Mode::kNone;  // nested objects are refused, so this closes the vocabulary
      return true;
    }
    path_.pop_back();
    return dom_.end_object();
  }

  bool start_array(std::size_t n) {
    ++depth_;
    if (mode_ == Mode::kMerges) {
      if (depth_ != collect_depth_ + 1) return Fail("a merge must be \"a b\" or [\"a\", \"b\"]");
      out_.merges.push_back({{}, {}, true});
      pair_index_ = 0;
      return true;
    }
    if (mode_ == Mode::kVocab) return Fail("vocabulary values must be integer ids");
    if (OpeningPath(merges_path_)) return Begin(Mode::kMerges, &out_.has_merges);
    if (OpeningPath(vocab_path_)) return Fail("the vocabulary must be an object of token -> id");
    path_.emplace_back();  // arrays do not extend the key path
    return dom_.start_array(n);
  }
  bool end_array() {
    bool closes_pair = mode_ == Mode::kMerges && depth_ == collect_depth_ + 1;
    bool closes_merges = mode_ == Mode::kMerges && depth_ == collect_depth_;
    --depth_;
    if (closes_pair) return pair_index_ == 2 || Fail("a merge pair must have exactly two strings");
    if (closes_merges) {
      mode_ = Mode::kNone;
      return true;
    }
    path_.pop_back();
    return dom_.end_array();
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) {
    error_ = "invalid JSON at byte " + std::to_string(position) + ": " + e.what();
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  enum class Mode { kNone, kVocab, kMerges };

  // A scalar: a vocabulary id, an error inside merges, or a DOM value.
  template <typename F>
  bool Scalar(F forward, int64_t as_id) {
    if (mode_ == Mode::kVocab) {
      if (as_id < 0) return Fail("vocabulary entry '" + pending_key_ + "' has no valid integer id");
      out_.vocab.emplace_back(std::move(pending_key_), as_id);
      return true;
    }
    if (mode_ == Mode::kMerges) return Fail("merges must be strings or pairs of strings");
    return forward();
  }

  // True when the container just opened (depth_ already counts it) sits at target's key path.
  bool OpeningPath(const std::vector<std::string>& target) const {
    return depth_ == static_cast<int>(target.size()) + 1 &&
           std::equal(target.begin(), target.end(), path_.begin());
  }

  bool Begin(Mode mode, bool* flag) {
    mode_ = mode;
    collect_depth_ = depth_;
    *flag = true;
    return dom_.null();
  }
  bool Fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  BigJsonParts& out_;
  nlohmann::detail::json_sax_dom_parser<json> dom_;
  const std::vector<std::string>& vocab_path_;
  const std::vector<std::string>& merges_path_;
  std::vector<std::string> path_;  // key of each open object (empty for arrays)
  int depth_ = 0;
  Mode mode_ = Mode::kNone;
  int collect_depth_ = 0;
  int pair_index_ = 0;
  std::string pending_key_;
  std::string error_;
};

}  // namespace

Result<BigJsonParts> ParseBigJson(std::string_view text, const std::string& source,
                                  const std::vector<std::string>& vocab_path,
                                  const std::vector<std::string>& merges_path) {
  RETURN_IF_ERROR(formats::CheckJsonNesting(text, source));
  BigJsonParts out;
  Collector collector(out, vocab_path, merges_path);
  bool ok = false;
  try {
    ok = json::sax_parse(text.begin(), text.end(), &collector);
  } catch (const std::exception& e) {
    return DataLoss(source + ": invalid JSON: " + e.what());
  }
  if (!ok) {
    return DataLoss(source + ": " +
                    (collector.error().empty() ? "invalid JSON" : collector.error()));
  }
  return out;
}

}  // namespace medassist::tokenizer
