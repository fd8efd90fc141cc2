// export-gguf: a Hugging Face Qwen2ForCausalLM / LlamaForCausalLM folder (config.json,
// safetensors, tokenizer files) rewritten as one GGUF v3 file that llama.cpp loads and runs as the
// original, and that our own GGUF loader reads:
//
//   general.*, {arch}.* hyperparameters     arch "qwen2" or "llama", key names as llama.cpp's
//   gguf-py tokenizer.ggml.*, tokenizer.chat_template   "gpt2" (byte-level BPE) or "llama"
//   (SentencePiece);
//                                            tokens padded to config vocab_size with "[PAD<i>]"
//   every tensor of HfWeightLayout           named by GgufTensorName, dims reversed (ggml order)
//
// Tensor data: 1-D tensors (norms, biases) are always F32; matrices are stored as --out-type
// (keep: as in the safetensors). For arch llama, q_proj / k_proj rows are permuted from HF's
// rotate_half order into the interleaved-pair order llama.cpp's LLAMA rope expects; Qwen2 uses NEOX
// rope in llama.cpp and is written unpermuted. Tensors that need neither conversion nor permutation
// are written straight from the memory-mapped safetensors; the others are converted one at a time
// while the file is written, so memory stays at about one tensor whatever the model size.
//
// A .gguf input (the quantize command) keeps its metadata and tokenizer and is only re-typed: its
// tensors, already in GGUF order, are dequantised if need be and converted by the same recipe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "formats/hf_config.h"
#include "model/quant_recipe.h"

namespace medassist::model {

// Matrix storage type of the exported file (quant_recipe.h): kKeep writes each matrix in its
// stored type, the others convert by the shared recipe (kQ4_K_M: llama.cpp's Q4_K_M mix).
using GgufExportType = WeightMix;

// ParseWeightMix: "keep", "f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q4_k_m" (any case).
Result<GgufExportType> ParseGgufExportType(std::string_view name);

struct GgufExportOptions {
  // A folder with config.json + model.safetensors (or an index and its shards), or a .gguf file
  // (quantize): its metadata and tokenizer are copied and its tensors converted.
  std::string model_dir;
  std::string out_path;        // the .gguf to write (atomically: nothing is left on failure)
  std::string tokenizer_path;  // a folder, tokenizer.json or .gguf; "" = model_dir
  GgufExportType out_type = GgufExportType::kKeep;
  // Convert block-quantised input tensors to another block type (CheckRequantize refuses it).
  bool allow_requantize = false;
};

// Tensors of one output type: how many, their elements, and bytes in the input and the output.
struct GgufTypeCount {
  std::string type;  // "Q4_K", "F32", ...
  size_t n_tensors = 0;
  uint64_t n_elements = 0;
  uint64_t source_bytes = 0;
  uint64_t bytes = 0;
};

struct GgufExportSummary {
  formats::ModelConfig config;
  std::string arch;        // "qwen2" or "llama"
  uint32_t file_type = 0;  // general.file_type: 0 F32, 1 F16, 32 BF16 (llama.cpp's LLAMA_FTYPE)
  size_t n_tensors = 0;
  uint64_t tensor_bytes = 0;  // tensor data, without padding
  uint64_t source_bytes = 0;  // the same tensors in the input
  uint64_t file_bytes = 0;
  std::vector<GgufTypeCount> by_type;  // in the order the types first appear
};

// Writes the file. Every problem is found before anything is written: an output that is the input,
// or in a folder that is missing or not writable, a missing folder, config or
// weights (NotFound), a tensor missing, of the wrong shape or of a dtype other than F32/F16/BF16
// (NotFound / DataLoss / Unimplemented, naming the file and the tensor), a tokenizer that cannot
// be found or holds more tokens than config vocab_size (InvalidArgument), a pre-tokenizer llama.cpp
// has no name for (Unimplemented). A GGUF input is opened by Model::Open (same checks as a load)
// and a quantised tensor in it is not requantised to another block type unless allow_requantize.
Result<GgufExportSummary> ExportGguf(const GgufExportOptions& options);

}  // namespace medassist::model
