// Tokenizer micro-benchmarks on real medical text (the 594 documents of the medical-o1 demo rows),
// single thread. bytes/s is the figure to compare with bench/tokenizer_compare.sh's MB/s.
#include <benchmark/benchmark.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/streaming_decoder.h"
#include "tokenizer/tokenizer.h"

namespace medassist::tokenizer {
namespace {

const std::string kData = MEDASSIST_SHARED_DATA_DIR;

const Tokenizer& Qwen() {
  static const Tokenizer t = [] {
    auto r = Tokenizer::Load(kData + "/qwen-tokenizer");
    CHECK(r.ok()) << r.status().ToString();
    return std::move(r).value();
  }();
  return t;
}

const std::vector<std::string>& Documents() {
  static const std::vector<std::string> docs = [] {
    std::ifstream in(kData + "/medical-o1-sft/huatuogpt-o1_demo_sft_198.jsonl");
    CHECK(in) << "missing medical-o1-sft corpus";
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      auto row = nlohmann::json::parse(line);
      for (const char* f : {"Question", "Complex_CoT", "Response"}) out.push_back(row[f]);
    }
    return out;
  }();
  return docs;
}

int64_t CorpusBytes() {
  int64_t n = 0;
  for (const std::string& d : Documents()) n += static_cast<int64_t>(d.size());
  return n;
}

void BM_EncodeMedicalCorpus(benchmark::State& state) {
  const Tokenizer& t = Qwen();
  size_t tokens = 0;
  for (auto _ : state) {
    for (const std::string& d : Documents()) {
      std::vector<TokenId> ids = t.Encode(d);
      tokens += ids.size();
      benchmark::DoNotOptimize(ids.data());
    }
  }
  state.SetBytesProcessed(state.iterations() * CorpusBytes());
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EncodeMedicalCorpus)->Unit(benchmark::kMillisecond);

// The Qwen2 pre-tokenizer alone: hand-written matcher (arg 0) vs PCRE2 JIT (arg 1).
void BM_PreTokenize(benchmark::State& state) {
  auto pre = PreTokenizer::FromPattern(kQwen2Pattern);
  CHECK(pre.ok());
  std::vector<std::string_view> pieces;
  for (auto _ : state) {
    for (const std::string& d : Documents()) {
      if (state.range(0) == 0) {
        pre->Split(d, pieces);
      } else {
        pre->SplitWithRegex(d, pieces);
      }
      benchmark::DoNotOptimize(pieces.data());
    }
  }
  state.SetBytesProcessed(state.iterations() * CorpusBytes());
  state.SetLabel(state.range(0) == 0 ? "hand-written" : "pcre2-jit");
}
BENCHMARK(BM_PreTokenize)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_DecodeStreaming(benchmark::State& state) {
  std::vector<std::vector<TokenId>> all;
  for (const std::string& d : Documents()) all.push_back(Qwen().Encode(d));
  for (auto _ : state) {
    for (const auto& ids : all) {
      StreamingDecoder dec(Qwen());
      for (TokenId id : ids) benchmark::DoNotOptimize(dec.Add(id));
      benchmark::DoNotOptimize(dec.Flush());
    }
  }
  state.SetBytesProcessed(state.iterations() * CorpusBytes());
}
BENCHMARK(BM_DecodeStreaming)->Unit(benchmark::kMillisecond);

void BM_LoadVocabAndMerges(benchmark::State& state) {
  for (auto _ : state) {
    auto t = Tokenizer::Load(kData + "/qwen-tokenizer");
    CHECK(t.ok());
    benchmark::DoNotOptimize(t->vocab_size());
  }
}
BENCHMARK(BM_LoadVocabAndMerges)->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace
}  // namespace medassist::tokenizer

BENCHMARK_MAIN();
