// The official Qwen2.5 tokenizer, loaded once per test program from each of the three file layouts
// the project reads, so the golden tests can run against all of them.
#pragma once

#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace medassist::tokenizer::testing {

// From ../shared/data/qwen-tokenizer/tokenizer.json.gz (gunzipped in memory) +
// tokenizer_config.json.
const Tokenizer& QwenFromTokenizerJson();
// From the same folder's vocab.json + merges.txt + tokenizer_config.json (Tokenizer::Load).
const Tokenizer& QwenFromVocabMerges();
// From a GGUF file with tokenizer.ggml.* metadata written by our GgufWriter from vocab.json +
// merges.txt (as llama.cpp's converter lays it out: model gpt2, pre qwen2).
const Tokenizer& QwenFromGguf();

std::string QwenDir();

// Splits text at each occurrence of sep; the part after the last separator is dropped (llama.cpp's
// vector files end with a separator).
std::vector<std::string> SplitVectors(const std::string& text, const std::string& sep);

}  // namespace medassist::tokenizer::testing
