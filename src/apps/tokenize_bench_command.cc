// `medassist tokenize-bench`: single-thread encode throughput on a JSON-lines corpus, printed as
// one JSON object in the same shape as bench/tokenizer-js/encode.mjs so the two can be compared.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>

#include "apps/options.h"
#include "apps/tokenize_commands.h"
#include "core/file.h"
#include "formats/json_util.h"
#include "tokenizer/tokenizer.h"

namespace medassist::apps {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchArgs {
  std::string tokenizer, jsonl, fields, dump_ids;
  int repeat = 5;
};

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    if (comma > pos) out.push_back(s.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return out;
}

// The documents: for each row in order, each field in order.
Result<std::vector<std::string>> ReadDocuments(const std::string& path,
                                               const std::vector<std::string>& fields) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::vector<std::string> docs;
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string_view line(text.data() + pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    std::string where = path + ":" + std::to_string(line_no);
    ASSIGN_OR_RETURN(nlohmann::json row, formats::ParseJson(line, where));
    for (const std::string& f : fields) {
      ASSIGN_OR_RETURN(std::string value, formats::GetString(row, f, where));
      docs.push_back(std::move(value));
    }
  }
  if (docs.empty()) return InvalidArgument(path + ": no documents");
  return docs;
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

int RunBench(const BenchArgs& a) {
  if (a.repeat < 1) {
    std::fprintf(stderr, "error: --repeat must be at least 1\n");
    return 2;
  }
  Result<std::vector<std::string>> docs = ReadDocuments(a.jsonl, SplitComma(a.fields));
  if (!docs.ok()) {
    std::fprintf(stderr, "error: %s\n", docs.status().ToString().c_str());
    return 1;
  }
  auto load_start = Clock::now();
  Result<tokenizer::Tokenizer> tok = tokenizer::Tokenizer::Load(a.tokenizer);
  double load_ms = Seconds(load_start, Clock::now()) * 1e3;
  if (!tok.ok()) {
    std::fprintf(stderr, "error: %s\n", tok.status().ToString().c_str());
    return 1;
  }
  size_t bytes = 0;
  for (const std::string& d : *docs) bytes += d.size();
  std::vector<std::vector<tokenizer::TokenId>> ids(docs->size());
  for (size_t i = 0; i < docs->size(); ++i) ids[i] = tok->Encode((*docs)[i]);  // warm-up pass
  std::vector<double> mb_s;
  size_t tokens = 0;
  for (int r = 0; r < a.repeat; ++r) {
    tokens = 0;
    auto start = Clock::now();
    for (size_t i = 0; i < docs->size(); ++i) {
      ids[i] = tok->Encode((*docs)[i]);
      tokens += ids[i].size();
    }
    mb_s.push_back(static_cast<double>(bytes) / 1e6 / Seconds(start, Clock::now()));
  }
  std::sort(mb_s.begin(), mb_s.end());
  size_t n = mb_s.size();
  double median = n % 2 == 1 ? mb_s[n / 2] : (mb_s[n / 2 - 1] + mb_s[n / 2]) / 2;
  if (!a.dump_ids.empty()) {
    std::ofstream out(a.dump_ids);
    for (const auto& doc_ids : ids) {
      for (size_t k = 0; k < doc_ids.size(); ++k) out << (k ? " " : "") << doc_ids[k];
      out << '\n';
    }
    if (!out) {
      std::fprintf(stderr, "error: cannot write %s\n", a.dump_ids.c_str());
      return 1;
    }
  }
  std::printf(
      "{\"impl\":\"medassist\",\"load_ms\":%.1f,\"docs\":%zu,\"bytes\":%zu,\"tokens\":%zu,"
      "\"best_mb_s\":%.3f,\"median_mb_s\":%.3f,\"repeat\":%d}\n",
      load_ms, docs->size(), bytes, tokens, mb_s.back(), median, a.repeat);
  return 0;
}

}  // namespace

void AddTokenizeBenchCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize-bench", "Single-thread encode throughput on a JSON-lines corpus (JSON result)");
  AddDeclaredOption(*cmd, "--tokenizer", args->tokenizer);
  AddDeclaredOption(*cmd, "--jsonl", args->jsonl)->required();
  AddDeclaredOption(*cmd, "--fields", args->fields);
  AddDeclaredOption(*cmd, "--repeat", args->repeat);
  AddDeclaredOption(*cmd, "--dump-ids", args->dump_ids);
  cmd->callback([args, exit_code] { *exit_code = RunBench(*args); });
}

}  // namespace medassist::apps
