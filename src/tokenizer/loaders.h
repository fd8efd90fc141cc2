// Reading tokenizers from the files models ship with. Each loader fills a TokenizerSpec; every
// problem comes back as a Status naming the file and what is wrong with it.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

namespace medassist::formats {
class GgufFile;
}

namespace medassist::tokenizer {

// Hugging Face tokenizer.json (a BPE model). config_json: the tokenizer_config.json text, or "".
Result<TokenizerSpec> SpecFromHfTokenizerJson(std::string_view json, std::string_view config_json,
                                              const std::string& source);

// vocab.json + merges.txt (with or without a "#version" line) + tokenizer_config.json, which must
// name a tokenizer class we know the pre-tokenizer of (Qwen2Tokenizer, GPT2Tokenizer).
Result<TokenizerSpec> SpecFromVocabAndMerges(std::string_view vocab_json, std::string_view merges,
                                             std::string_view config_json,
                                             const std::string& source);

// GGUF tokenizer metadata: tokenizer.ggml.model "gpt2" (byte-level BPE) or "llama" (SentencePiece).
Result<TokenizerSpec> SpecFromGguf(const formats::GgufFile& gguf, const std::string& source);

// The spec that Tokenizer::Load(path) builds its tokenizer from (a folder, a tokenizer.json file or
// a .gguf file), unchecked: for tools that rewrite a tokenizer in another format.
Result<TokenizerSpec> LoadTokenizerSpec(const std::string& path);

}  // namespace medassist::tokenizer
