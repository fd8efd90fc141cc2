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
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "formats/hf_config.h"

namespace medassist::model {

// Matrix storage type of the exported file; kKeep writes each matrix in its stored type. The
// quantised types pick a type per tensor (QuantisedMatrixType): kQ8_0 and kQ4_0 all matrices,
// kQ4_K_M llama.cpp's Q4_K_M recipe (Q4_K, with Q6_K for the output head and for attn_v /
// ffn_down in the layers where llama.cpp gives them more bits). A matrix whose rows are not whole
// blocks of its type (Qwen2.5-0.5B's 896-wide rows for the 256-element K blocks) falls back to
// Q8_0 (llama.cpp uses Q5_0 and Q8_0, which this build does not run; Q8_0 is the larger, more
// exact choice).
enum class GgufExportType { kKeep, kF32, kF16, kBF16, kQ8_0, kQ4_0, kQ4_K_M };

// "keep", "f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m" (any case); anything else is
// InvalidArgument naming the choices.
Result<GgufExportType> ParseGgufExportType(std::string_view name);

struct GgufExportOptions {
  std::string model_dir;       // config.json + model.safetensors (or an index and its shards)
  std::string out_path;        // the .gguf to write (atomically: nothing is left on failure)
  std::string tokenizer_path;  // a folder, tokenizer.json or .gguf; "" = model_dir
  GgufExportType out_type = GgufExportType::kKeep;
};

struct GgufExportSummary {
  formats::ModelConfig config;
  std::string arch;        // "qwen2" or "llama"
  uint32_t file_type = 0;  // general.file_type: 0 F32, 1 F16, 32 BF16 (llama.cpp's LLAMA_FTYPE)
  size_t n_tensors = 0;
  uint64_t tensor_bytes = 0;  // tensor data, without padding
  uint64_t file_bytes = 0;
};

// Writes the file. Every problem is found before anything is written: a missing folder, config or
// weights (NotFound), a tensor missing, of the wrong shape or of a dtype other than F32/F16/BF16
// (NotFound / DataLoss / Unimplemented, naming the file and the tensor), a tokenizer that cannot
// be found or holds more tokens than config vocab_size (InvalidArgument), a pre-tokenizer llama.cpp
// has no name for (Unimplemented).
Result<GgufExportSummary> ExportGguf(const GgufExportOptions& options);

}  // namespace medassist::model
