#include "eval/results_file.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/file.h"
#include "eval/prompts.h"
#include "formats/json_util.h"

namespace medassist::eval {
namespace {

nlohmann::json Letter(int32_t index) {
  return index < 0 ? nlohmann::json(nullptr) : nlohmann::json(OptionLetter(index));
}

Result<int32_t> Index(const nlohmann::json& row, const char* key) {
  auto it = row.find(key);
  if (it == row.end() || it->is_null()) return -1;
  if (!it->is_string() || it->get_ref<const std::string&>().size() != 1) {
    return InvalidArgument(fmt::format("'{}' must be a letter or null", key));
  }
  const char c = it->get_ref<const std::string&>()[0];
  if (c < 'A' || c > 'Z') return InvalidArgument(fmt::format("'{}' must be A-Z", key));
  return c - 'A';
}

std::string StringOr(const nlohmann::json& row, const char* key) {
  auto it = row.find(key);
  return it != row.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool BoolOr(const nlohmann::json& row, const char* key) {
  auto it = row.find(key);
  return it != row.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace

const char* ProtocolName(Protocol protocol) {
  return protocol == Protocol::kGenerate ? "generate" : "loglikelihood";
}

Result<Protocol> ParseProtocol(std::string_view name) {
  if (name == "loglikelihood") return Protocol::kLoglikelihood;
  if (name == "generate") return Protocol::kGenerate;
  return InvalidArgument(fmt::format("unknown protocol '{}': loglikelihood or generate", name));
}

std::string ItemResultLine(const ItemResult& r, Protocol protocol, const std::string& model) {
  nlohmann::json row = {{"set", r.set},
                        {"id", r.id},
                        {"protocol", ProtocolName(protocol)},
                        {"model", model},
                        {"prompt", r.prompt},
                        {"output", r.output},
                        {"answer", Letter(r.answer)},
                        {"pred", Letter(r.pred)},
                        {"correct", r.correct}};
  if (protocol == Protocol::kLoglikelihood) {
    row["pred_norm"] = Letter(r.pred_norm);
    row["correct_norm"] = r.correct_norm;
    row["logprobs"] = r.logprobs;
  } else {
    row["extraction"] = r.extraction;
  }
  if (!r.error.empty()) row["error"] = r.error;
  // Replace invalid UTF-8 (a model's output may stop inside a character) instead of throwing.
  return row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<StoredRow> ParseItemResultLine(std::string_view line) {
  ASSIGN_OR_RETURN(nlohmann::json row, formats::ParseJson(line, "row", 8));
  if (!row.is_object()) return InvalidArgument("a row must be a JSON object");
  StoredRow out;
  ItemResult& r = out.result;
  r.set = StringOr(row, "set");
  r.id = StringOr(row, "id");
  if (r.set.empty() || r.id.empty()) return InvalidArgument("a row needs 'set' and 'id'");
  out.protocol = StringOr(row, "protocol");
  out.model = StringOr(row, "model");
  r.prompt = StringOr(row, "prompt");
  r.output = StringOr(row, "output");
  ASSIGN_OR_RETURN(r.answer, Index(row, "answer"));
  ASSIGN_OR_RETURN(r.pred, Index(row, "pred"));
  ASSIGN_OR_RETURN(r.pred_norm, Index(row, "pred_norm"));
  if (auto lp = row.find("logprobs"); lp != row.end() && lp->is_array()) {
    for (const nlohmann::json& v : *lp) {
      if (!v.is_number()) return InvalidArgument("'logprobs' must hold numbers");
      r.logprobs.push_back(v.get<double>());
    }
  }
  r.extraction = StringOr(row, "extraction");
  r.correct = BoolOr(row, "correct");
  r.correct_norm = BoolOr(row, "correct_norm");
  r.error = StringOr(row, "error");
  return out;
}

Result<std::vector<StoredRow>> LoadResultRows(const std::string& path) {
  std::vector<StoredRow> rows;
  if (!FileExists(path)) return rows;
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  size_t pos = 0, good_end = 0;
  int64_t line_no = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    const bool last = nl == std::string::npos || nl + 1 == text.size();
    std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
    ++line_no;
    Result<StoredRow> row = ParseItemResultLine(line);
    if (!row.ok() || nl == std::string::npos) {
      if (last) break;  // cut short by an interruption: dropped below
      return DataLoss(fmt::format("{}:{}: {}", path, line_no, row.status().message()));
    }
    rows.push_back(std::move(row).value());
    pos = good_end = nl + 1;
  }
  if (good_end < text.size()) {
    std::error_code ec;
    std::filesystem::resize_file(path, good_end, ec);
    if (ec)
      return IoError(fmt::format("{}: cannot drop its cut-short last row: {}", path, ec.message()));
  }
  return rows;
}

Result<std::unique_ptr<ResultsWriter>> ResultsWriter::Open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "ab");
  if (f == nullptr)
    return IoError(fmt::format("{}: cannot open for appending: {}", path, std::strerror(errno)));
  return std::unique_ptr<ResultsWriter>(new ResultsWriter(f, path));
}

ResultsWriter::~ResultsWriter() { std::fclose(file_); }

Status ResultsWriter::Append(const std::string& line) {
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() ||
      std::fputc('\n', file_) == EOF || std::fflush(file_) != 0) {
    return IoError(fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
  }
  return Status::Ok();
}

}  // namespace medassist::eval
