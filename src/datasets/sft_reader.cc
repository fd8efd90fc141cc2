#include "datasets/sft_reader.h"

#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace medassist::datasets {
namespace {

using nlohmann::json;

constexpr size_t kMaxProblemsKept = 20;

struct Position {
  int64_t line = 1;
  int64_t bytes = 0;
};

// An input iterator over the file's bytes that counts lines as the JSON parser consumes them,
// so that rows and errors can be reported by line while the file streams through.
class CountingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = char;

  CountingIterator(std::istreambuf_iterator<char> it, Position* pos) : it_(it), pos_(pos) {}
  char operator*() const { return *it_; }
  CountingIterator& operator++() {
    if (*it_ == '\n') ++pos_->line;
    ++pos_->bytes;
    ++it_;
    return *this;
  }
  CountingIterator operator++(int) {
    CountingIterator before = *this;
    ++*this;
    return before;
  }
  bool operator==(const CountingIterator& other) const { return it_ == other.it_; }
  bool operator!=(const CountingIterator& other) const { return !(*this == other); }

 private:
  std::istreambuf_iterator<char> it_;
  Position* pos_;
};

// Shared by both formats: checks a row's fields, then delivers or reports it.
class RowSink {
 public:
  RowSink(const SftReadOptions& options, const std::function<bool(SftRow)>& on_row)
      : options_(options), on_row_(on_row) {}

  // false: stop reading (the callback said so, or a malformed row under kRefuse).
  bool Deliver(SftRow row, const std::string& problem) {
    if (problem.empty()) {
      ++stats.rows;
      if (!on_row_(std::move(row))) stopped_by_caller = true;
      return !stopped_by_caller;
    }
    std::string where = fmt::format("row {} (line {}): {}", row.index + 1, row.line, problem);
    if (options_.on_malformed == MalformedRows::kRefuse) {
      failure = DataLoss(where + " (skip malformed rows to go on without it)");
      return false;
    }
    spdlog::warn("skipping {}", where);
    ++stats.skipped;
    if (stats.problems.size() < kMaxProblemsKept) stats.problems.push_back(std::move(where));
    return true;
  }

  const SftReadOptions& options() const { return options_; }
  SftReadStats stats;
  Status failure;
  bool stopped_by_caller = false;

 private:
  const SftReadOptions& options_;
  const std::function<bool(SftRow)>& on_row_;
};

// SAX events of a top-level JSON array of row objects. Depth 1 is the array, depth 2 a row;
// anything deeper belongs to a field we skip (or makes a wanted field "not a string").
class ArraySax : public nlohmann::json_sax<json> {
 public:
  ArraySax(RowSink& sink, const Position& pos) : sink_(sink), pos_(pos) {}

  bool null() override { return Value("null"); }
  bool boolean(bool) override { return Value("a boolean"); }
  bool number_integer(number_integer_t) override { return Value("a number"); }
  bool number_unsigned(number_unsigned_t) override { return Value("a number"); }
  bool number_float(number_float_t, const string_t&) override { return Value("a number"); }
  bool binary(binary_t&) override { return Value("binary"); }
  bool string(string_t& value) override {
    if (depth_ == 2) {
      if (std::string* field = WantedField()) {
        if (value.size() > sink_.options().max_field_bytes) {
          Problem(fmt::format("field '{}' is {} bytes, over the limit of {}", key_, value.size(),
                              sink_.options().max_field_bytes));
        } else {
          *field = std::move(value);
          seen_.push_back(key_);
        }
      }
      return true;
    }
    return Value("a string");
  }
  bool start_object(std::size_t) override {
    if (depth_ == 2) NotAString("an object");
    if (++depth_ == 2) BeginRow();
    return true;
  }
  bool end_object() override {
    if (depth_-- == 2) return EndRow();
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth_ == 0) {
      ++depth_;
      return true;
    }
    if (depth_ == 2) NotAString("an array");
    if (++depth_ == 2) {  // a row that is an array, not an object
      BeginRow();
      Problem("the row is an array, not an object");
    }
    return true;
  }
  bool end_array() override {
    if (depth_-- == 2) return EndRow();
    return true;
  }
  bool key(string_t& value) override {
    key_ = std::move(value);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    syntax_error_ = fmt::format("line {}: {}", pos_.line, e.what());
    return false;
  }

  bool top_level_was_array() const { return saw_array_; }
  const std::string& syntax_error() const { return syntax_error_; }

 private:
  std::string* WantedField() {
    const SftFields& f = sink_.options().fields;
    if (key_ == f.question) return &row_.question;
    if (key_ == f.reasoning) return &row_.reasoning;
    if (key_ == f.response) return &row_.response;
    return nullptr;
  }
  void NotAString(const char* what) {
    if (WantedField() != nullptr)
      Problem(fmt::format("field '{}' is {}, not a string", key_, what));
  }
  bool Value(const char* what) {
    if (depth_ == 2) {
      NotAString(what);
    } else if (depth_ == 1) {  // a row that is a scalar
      BeginRow();
      Problem(fmt::format("the row is {}, not an object", what));
      return EndRow();
    }
    return true;
  }
  void BeginRow() {
    saw_array_ = true;
    row_ = SftRow{.line = pos_.line, .index = index_++};
    seen_.clear();
    problem_.clear();
  }
  void Problem(std::string p) {
    if (problem_.empty()) problem_ = std::move(p);
  }
  bool EndRow() {
    const SftFields& f = sink_.options().fields;
    for (const std::string* name : {&f.question, &f.reasoning, &f.response}) {
      if (std::find(seen_.begin(), seen_.end(), *name) == seen_.end()) {
        Problem(fmt::format("field '{}' is missing", *name));
      }
    }
    return sink_.Deliver(std::move(row_), problem_);
  }

  RowSink& sink_;
  const Position& pos_;
  int depth_ = 0;
  int64_t index_ = 0;
  bool saw_array_ = false;
  std::string key_;
  SftRow row_;
  std::vector<std::string> seen_;
  std::string problem_;
  std::string syntax_error_;
};

Status ReadJsonArray(std::ifstream& in, RowSink& sink) {
  Position pos;
  ArraySax sax(sink, pos);
  CountingIterator first(std::istreambuf_iterator<char>(in), &pos);
  CountingIterator last(std::istreambuf_iterator<char>(), &pos);
  const bool ok = json::sax_parse(first, last, &sax);
  sink.stats.bytes = pos.bytes;
  if (!sink.failure.ok()) return sink.failure;
  if (sink.stopped_by_caller) return {};
  if (!ok) return DataLoss("the JSON is broken at " + sax.syntax_error());
  return {};
}

std::string RowProblem(const json& row, const SftFields& f, size_t max_bytes) {
  if (!row.is_object()) return "the line is not a JSON object";
  for (const std::string* name : {&f.question, &f.reasoning, &f.response}) {
    auto it = row.find(*name);
    if (it == row.end()) return fmt::format("field '{}' is missing", *name);
    if (!it->is_string()) return fmt::format("field '{}' is not a string", *name);
    if (it->get_ref<const std::string&>().size() > max_bytes) {
      return fmt::format("field '{}' is over the limit of {} bytes", *name, max_bytes);
    }
  }
  return {};
}

Status ReadJsonLines(std::ifstream& in, RowSink& sink) {
  const SftFields& f = sink.options().fields;
  std::string line;
  int64_t line_number = 0, index = 0;
  while (std::getline(in, line)) {
    ++line_number;
    sink.stats.bytes += static_cast<int64_t>(line.size()) + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json row = json::parse(line, nullptr, /*allow_exceptions=*/false);
    SftRow r{.line = line_number, .index = index++};
    std::string problem = row.is_discarded() ? "the line is not valid JSON"
                                             : RowProblem(row, f, sink.options().max_field_bytes);
    if (problem.empty()) {
      r.question = std::move(row[f.question].get_ref<std::string&>());
      r.reasoning = std::move(row[f.reasoning].get_ref<std::string&>());
      r.response = std::move(row[f.response].get_ref<std::string&>());
    }
    if (!sink.Deliver(std::move(r), problem)) return sink.failure;
  }
  return {};
}

}  // namespace

Result<SftReadStats> ReadSftRows(const std::string& path, const SftReadOptions& options,
                                 const std::function<bool(SftRow)>& on_row) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(fmt::format("cannot open the data set {}", path));
  int first = in.peek();
  while (first == ' ' || first == '\n' || first == '\r' || first == '\t' || first == 0xEF ||
         first == 0xBB || first == 0xBF) {  // whitespace and a UTF-8 byte order mark
    in.get();
    first = in.peek();
  }
  RowSink sink(options, on_row);
  Status s;
  if (first == '[') {
    s = ReadJsonArray(in, sink);
  } else if (first == '{') {
    s = ReadJsonLines(in, sink);
  } else {
    return DataLoss(fmt::format(
        "{} is neither a JSON array ('[') nor JSON lines ('{{'): it starts with {}", path,
        first == EOF ? std::string("nothing") : fmt::format("byte 0x{:02x}", first)));
  }
  if (!s.ok()) return s.WithContext(path);
  return sink.stats;
}

}  // namespace medassist::datasets
