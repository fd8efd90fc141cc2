#include "model/gguf_export.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <span>
#include <vector>

#include "formats/gguf_writer.h"
#include "formats/safetensors_model.h"
#include "kernels/fp16.h"
#include "kernels/quantize.h"
#include "model/tensor_names.h"
#include "model/weight_layout.h"
#include "tokenizer/loaders.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace medassist::model {
namespace {

namespace fs = std::filesystem;
using formats::GgmlType;
using formats::GgufWriter;
using formats::SafetensorsDtype;
using formats::SafetensorsTensor;
using tokenizer::TokenizerSpec;
using tokenizer::TokenKind;

// ---- element conversion --------------------------------------------------------------------

// Source elements are little-endian and possibly unaligned (safetensors does not align).
float LoadElement(const uint8_t* p, SafetensorsDtype dtype) {
  if (dtype == SafetensorsDtype::kF32) {
    float f;
    std::memcpy(&f, p, sizeof f);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p, sizeof h);
  return dtype == SafetensorsDtype::kF16 ? kernels::F16ToF32(h) : kernels::BF16ToF32(h);
}

void StoreElement(float v, GgmlType type, uint8_t* p) {
  if (type == GgmlType::kF32) {
    std::memcpy(p, &v, sizeof v);
    return;
  }
  const uint16_t h = type == GgmlType::kF16 ? kernels::F32ToF16(v) : kernels::F32ToBF16(v);
  std::memcpy(p, &h, sizeof h);
}

GgmlType GgmlTypeOf(SafetensorsDtype dtype) {
  if (dtype == SafetensorsDtype::kF16) return GgmlType::kF16;
  if (dtype == SafetensorsDtype::kBF16) return GgmlType::kBF16;
  return GgmlType::kF32;
}

// What a quantised export stores a matrix as, before the fallback for rows of partial blocks.
// hf_name's layer index decides llama.cpp's "more bits" layers for Q4_K_M: the first and last
// eighth of the layers and every third layer in between.
GgmlType QuantisedChoice(GgufExportType out_type, const formats::ModelConfig& c,
                         const std::string& hf_name) {
  if (out_type == GgufExportType::kQ8_0) return GgmlType::kQ8_0;
  if (out_type == GgufExportType::kQ4_0) return GgmlType::kQ4_0;
  const bool is_output = hf_name == "lm_head.weight" ||
                         (c.tie_word_embeddings && hf_name == "model.embed_tokens.weight");
  if (is_output) return GgmlType::kQ6_K;
  const bool more_bits_kind = hf_name.find(".self_attn.v_proj.") != std::string::npos ||
                              hf_name.find(".mlp.down_proj.") != std::string::npos;
  if (!more_bits_kind) return GgmlType::kQ4_K;
  const int64_t n = c.num_hidden_layers;
  const int64_t layer = std::stoll(hf_name.substr(std::string("model.layers.").size()));
  const bool more_bits = layer < n / 8 || layer >= 7 * n / 8 || (layer - n / 8) % 3 == 2;
  return more_bits ? GgmlType::kQ6_K : GgmlType::kQ4_K;
}

GgmlType QuantisedMatrixType(GgufExportType out_type, const formats::ModelConfig& c,
                             const std::string& hf_name, int64_t cols) {
  const GgmlType t = QuantisedChoice(out_type, c, hf_name);
  const int64_t block = formats::FindGgmlTypeTraits(static_cast<uint32_t>(t))->block_size;
  if (cols % block == 0) return t;
  return cols % 32 == 0 ? GgmlType::kQ8_0 : GgmlType::kF16;
}

bool IsQuantised(GgmlType t) {
  return t == GgmlType::kQ8_0 || t == GgmlType::kQ4_0 || t == GgmlType::kQ4_K ||
         t == GgmlType::kQ6_K;
}

kernels::WeightFormat FormatOf(GgmlType t) {
  switch (t) {
    case GgmlType::kQ8_0:
      return kernels::WeightFormat::kQ8_0;
    case GgmlType::kQ4_0:
      return kernels::WeightFormat::kQ4_0;
    case GgmlType::kQ4_K:
      return kernels::WeightFormat::kQ4_K;
    default:
      return kernels::WeightFormat::kQ6_K;
  }
}

GgmlType MatrixType(GgufExportType out_type, SafetensorsDtype stored) {
  switch (out_type) {
    case GgufExportType::kF32:
      return GgmlType::kF32;
    case GgufExportType::kF16:
      return GgmlType::kF16;
    case GgufExportType::kBF16:
      return GgmlType::kBF16;
    case GgufExportType::kKeep:
    case GgufExportType::kQ8_0:
    case GgufExportType::kQ4_0:
    case GgufExportType::kQ4_K_M:
      break;
  }
  return GgmlTypeOf(stored);
}

// ---- tensors -----------------------------------------------------------------------------------

// One tensor of the output and where its data comes from.
struct TensorJob {
  std::string gguf_name;
  const SafetensorsTensor* src = nullptr;
  GgmlType out_type = GgmlType::kF32;
  std::vector<uint64_t> dims;  // ggml order: PyTorch shape reversed
  int64_t rows = 1, cols = 1;  // PyTorch (rows, cols); a 1-D tensor is (n, 1)
  int64_t head_dim = 0;        // > 0: permute rows within heads of head_dim rows (llama q/k)

  bool NeedsCopy() const { return head_dim > 0 || out_type != GgmlTypeOf(src->dtype); }
};

// HF rotate_half keeps rope pairs (j, j + d/2) of a head apart; llama.cpp's LLAMA rope wants them
// adjacent: GGUF row 2j <- HF row j, GGUF row 2j+1 <- HF row j + d/2 (inverse of HF's convert).
int64_t HfRowOfGgufRow(int64_t row, int64_t head_dim) {
  const int64_t head = row / head_dim, i = row % head_dim;
  return head * head_dim + (i % 2) * (head_dim / 2) + i / 2;
}

// Fills out (rows * cols elements of job.out_type) from the source, permuted and converted.
Status ProduceTensor(const TensorJob& job, std::span<uint8_t> out) {
  const size_t in_size = formats::SafetensorsDtypeSize(job.src->dtype);
  if (IsQuantised(job.out_type)) {
    const kernels::WeightFormat format = FormatOf(job.out_type);
    const int64_t row_bytes = kernels::RowBytes(format, job.cols);
    std::vector<float> row(static_cast<size_t>(job.cols));
    for (int64_t r = 0; r < job.rows; ++r) {
      const int64_t src_row = job.head_dim > 0 ? HfRowOfGgufRow(r, job.head_dim) : r;
      const uint8_t* in = job.src->data.data() + static_cast<size_t>(src_row * job.cols) * in_size;
      for (int64_t c = 0; c < job.cols; ++c) {
        row[static_cast<size_t>(c)] = LoadElement(in + c * in_size, job.src->dtype);
      }
      kernels::QuantizeRow(format, row.data(), job.cols, out.data() + r * row_bytes);
    }
    return Status::Ok();
  }
  const size_t out_size = out.size() / static_cast<size_t>(job.rows * job.cols);
  const bool same_type = job.out_type == GgmlTypeOf(job.src->dtype);
  for (int64_t r = 0; r < job.rows; ++r) {
    const int64_t src_row = job.head_dim > 0 ? HfRowOfGgufRow(r, job.head_dim) : r;
    const uint8_t* in = job.src->data.data() + static_cast<size_t>(src_row * job.cols) * in_size;
    uint8_t* o = out.data() + static_cast<size_t>(r * job.cols) * out_size;
    if (same_type) {  // bit-exact (NaN payloads included)
      std::memcpy(o, in, static_cast<size_t>(job.cols) * in_size);
      continue;
    }
    for (int64_t c = 0; c < job.cols; ++c) {
      StoreElement(LoadElement(in + c * in_size, job.src->dtype), job.out_type, o + c * out_size);
    }
  }
  return Status::Ok();
}

// The file of the folder that holds tensor `name`, for messages.
std::string SourceOf(const formats::SafetensorsModel& st, const std::string& name) {
  for (const formats::SafetensorsFile& f : st.files()) {
    if (f.Find(name) != nullptr) return f.source();
  }
  return st.dir();
}

std::string ShapeText(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Permutation head size of an HF tensor for arch llama: q_proj and k_proj (weights and biases)
// hold rows / head_dim heads (num_attention_heads, num_key_value_heads); 0 for everything else.
int64_t PermuteHeadDim(const formats::ModelConfig& config, const std::string& hf_name) {
  if (config.architecture != formats::Architecture::kLlama) return 0;
  const bool q = hf_name.find(".self_attn.q_proj.") != std::string::npos;
  const bool k = hf_name.find(".self_attn.k_proj.") != std::string::npos;
  return q || k ? config.head_dim : 0;
}

Result<TensorJob> PlanTensor(const formats::ModelConfig& config,
                             const formats::SafetensorsModel& st, const WeightSpec& w,
                             GgufExportType out_type) {
  const SafetensorsTensor* t = st.Find(w.name);
  if (t == nullptr) {
    return NotFound(st.dir() + ": tensor '" + w.name + "' is missing from the safetensors " +
                    "weights (config.json's layout needs it)");
  }
  if (t->shape != w.shape) {
    return DataLoss(SourceOf(st, w.name) + ": tensor '" + w.name + "' has shape " +
                    ShapeText(t->shape) + ", but config.json implies " + ShapeText(w.shape));
  }
  if (!formats::SafetensorsDtypeIsComputeSupported(t->dtype)) {
    return Unimplemented(SourceOf(st, w.name) + ": tensor '" + w.name + "' is " +
                         std::string(formats::SafetensorsDtypeName(t->dtype)) +
                         "; export-gguf reads F32, F16 or BF16 weights");
  }
  std::optional<std::string> name = GgufTensorName(w.name);
  if (!name) return Internal("no GGUF name for layout tensor '" + w.name + "'");
  TensorJob job;
  job.gguf_name = *name;
  job.src = t;
  job.dims.assign(w.shape.rbegin(), w.shape.rend());
  job.rows = static_cast<int64_t>(w.shape[0]);
  job.cols = w.shape.size() == 2 ? static_cast<int64_t>(w.shape[1]) : 1;
  job.head_dim = PermuteHeadDim(config, w.name);
  // llama.cpp keeps 1-D tensors (norms, biases) in F32 whatever the file type.
  const bool quantised = out_type == GgufExportType::kQ8_0 || out_type == GgufExportType::kQ4_0 ||
                         out_type == GgufExportType::kQ4_K_M;
  if (w.shape.size() == 1) {
    job.out_type = GgmlType::kF32;
  } else {
    job.out_type = quantised ? QuantisedMatrixType(out_type, config, w.name, job.cols)
                             : MatrixType(out_type, t->dtype);
  }
  return job;
}

// general.file_type: llama.cpp's LLAMA_FTYPE of the export: the quantised mixes by name (7 Q8_0,
// 2 Q4_0, 15 Q4_K_M), else the majority matrix type (0 F32, 1 F16, 32 BF16).
uint32_t FileType(const std::vector<TensorJob>& jobs, GgufExportType out_type) {
  if (out_type == GgufExportType::kQ8_0) return 7;
  if (out_type == GgufExportType::kQ4_0) return 2;
  if (out_type == GgufExportType::kQ4_K_M) return 15;
  size_t n_f32 = 0, n_f16 = 0, n_bf16 = 0;
  for (const TensorJob& j : jobs) {
    if (j.dims.size() < 2) continue;
    n_f32 += j.out_type == GgmlType::kF32;
    n_f16 += j.out_type == GgmlType::kF16;
    n_bf16 += j.out_type == GgmlType::kBF16;
  }
  if (n_f16 > n_f32 && n_f16 >= n_bf16) return 1;
  if (n_bf16 > n_f32 && n_bf16 > n_f16) return 32;
  return 0;
}

// ---- metadata ----------------------------------------------------------------------------------

void AddModelMetadata(const formats::ModelConfig& c, const std::string& arch,
                      const std::string& name, uint32_t file_type, GgufWriter& w) {
  auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };  // config limits keep v < 2^24
  w.AddString("general.architecture", arch);
  w.AddString("general.name", name);
  w.AddUint32("general.file_type", file_type);
  w.AddUint32(arch + ".context_length", u32(c.max_position_embeddings));
  w.AddUint32(arch + ".embedding_length", u32(c.hidden_size));
  w.AddUint32(arch + ".block_count", u32(c.num_hidden_layers));
  w.AddUint32(arch + ".feed_forward_length", u32(c.intermediate_size));
  w.AddUint32(arch + ".attention.head_count", u32(c.num_attention_heads));
  w.AddUint32(arch + ".attention.head_count_kv", u32(c.num_key_value_heads));
  w.AddFloat32(arch + ".rope.freq_base", static_cast<float>(c.rope_theta));
  w.AddFloat32(arch + ".attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps));
  w.AddUint32(arch + ".rope.dimension_count", u32(c.head_dim));
  w.AddUint32(arch + ".attention.key_length", u32(c.head_dim));
  w.AddUint32(arch + ".attention.value_length", u32(c.head_dim));
  w.AddUint32(arch + ".vocab_size", u32(c.vocab_size));
}

// tokenizer.ggml.pre: llama.cpp's name for the byte-level pre-tokenizer regex.
Result<std::string> PreName(const TokenizerSpec& spec) {
  if (spec.pretokenizer_pattern == tokenizer::kQwen2Pattern) return std::string("qwen2");
  if (spec.pretokenizer_pattern == tokenizer::kGpt2Pattern) return std::string("gpt-2");
  if (spec.pretokenizer_pattern == tokenizer::kLlama3Pattern) return std::string("llama-bpe");
  return Unimplemented(spec.source + ": the pre-tokenizer regex is not one llama.cpp names " +
                       "(qwen2, gpt-2, llama-bpe), so llama.cpp would split text differently");
}

// tokens and token_type, padded to vocab_size: ids without a token become "[PAD<id>]", UNUSED.
void AddTokenList(const TokenizerSpec& spec, int64_t vocab_size, GgufWriter& w) {
  std::vector<std::string> tokens(static_cast<size_t>(vocab_size));
  std::vector<int32_t> types(tokens.size(), static_cast<int32_t>(TokenKind::kUnused));
  for (size_t id = 0; id < tokens.size(); ++id) {
    if (id < spec.pieces.size() && id < spec.kinds.size() && !spec.pieces[id].empty()) {
      tokens[id] = spec.pieces[id];
      types[id] = static_cast<int32_t>(spec.kinds[id]);
    } else {  // past the tokenizer's end, or a hole in its vocabulary
      tokens[id] = "[PAD" + std::to_string(id) + "]";
    }
  }
  w.AddStringArray("tokenizer.ggml.tokens", tokens);
  w.AddInt32Array("tokenizer.ggml.token_type", types);
}

Status AddTokenizerMetadata(const TokenizerSpec& spec, int64_t vocab_size, GgufWriter& w) {
  if (static_cast<int64_t>(spec.pieces.size()) > vocab_size) {
    return InvalidArgument(
        spec.source + ": the tokenizer has " + std::to_string(spec.pieces.size()) +
        " tokens, more than config.json's vocab_size " + std::to_string(vocab_size) +
        " (the embedding table has no row for " + "the others): wrong tokenizer for this model?");
  }
  if (spec.type == tokenizer::TokenizerType::kByteLevelBpe) {
    ASSIGN_OR_RETURN(std::string pre, PreName(spec));
    w.AddString("tokenizer.ggml.model", "gpt2");
    w.AddString("tokenizer.ggml.pre", pre);
    AddTokenList(spec, vocab_size, w);
    std::vector<std::string> merges;
    merges.reserve(spec.merges.size());
    for (const tokenizer::Merge& m : spec.merges) {
      merges.push_back(spec.pieces[m.left] + " " + spec.pieces[m.right]);
    }
    w.AddStringArray("tokenizer.ggml.merges", merges);
  } else {
    w.AddString("tokenizer.ggml.model", "llama");
    AddTokenList(spec, vocab_size, w);
    std::vector<float> scores(static_cast<size_t>(vocab_size), -1000.0f);  // padding: never picked
    std::copy_n(spec.scores.begin(), std::min(spec.scores.size(), scores.size()), scores.begin());
    w.AddFloat32Array("tokenizer.ggml.scores", scores);
    w.AddBool("tokenizer.ggml.add_space_prefix", spec.add_space_prefix);
  }
  const std::pair<const char*, std::optional<tokenizer::TokenId>> ids[] = {
      {"tokenizer.ggml.bos_token_id", spec.bos_id},
      {"tokenizer.ggml.eos_token_id", spec.eos_id},
      {"tokenizer.ggml.unknown_token_id", spec.unk_id},
      {"tokenizer.ggml.padding_token_id", spec.pad_id}};
  for (const auto& [key, id] : ids) {
    if (id) w.AddUint32(key, static_cast<uint32_t>(*id));
  }
  w.AddBool("tokenizer.ggml.add_bos_token", spec.add_bos);
  if (!spec.chat_template.empty()) w.AddString("tokenizer.chat_template", spec.chat_template);
  return Status::Ok();
}

// The tokenizer spec, checked by building a tokenizer from it (a broken one fails here, not in
// llama.cpp). The model folder is the default source.
Result<TokenizerSpec> LoadSpec(const GgufExportOptions& o) {
  const std::string path = o.tokenizer_path.empty() ? o.model_dir : o.tokenizer_path;
  Result<TokenizerSpec> spec = tokenizer::LoadTokenizerSpec(path);
  if (!spec.ok() && o.tokenizer_path.empty()) {
    return spec.status().WithContext(
        "no usable tokenizer in the model folder; name one with --tokenizer (a folder, a "
        "tokenizer.json or a .gguf)");
  }
  if (!spec.ok()) return spec.status();
  RETURN_IF_ERROR(tokenizer::Tokenizer::Create(*spec).status());
  return spec;
}

std::string FolderName(const std::string& dir) {
  fs::path p(dir);
  if (!p.has_filename()) p = p.parent_path();  // "a/b/" -> "a/b"
  return p.filename().string();
}

}  // namespace

Result<GgufExportType> ParseGgufExportType(std::string_view name) {
  if (name == "keep") return GgufExportType::kKeep;
  if (name == "f32") return GgufExportType::kF32;
  if (name == "f16") return GgufExportType::kF16;
  if (name == "bf16") return GgufExportType::kBF16;
  std::string lower(name);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (lower == "q8_0") return GgufExportType::kQ8_0;
  if (lower == "q4_0") return GgufExportType::kQ4_0;
  if (lower == "q4_k_m") return GgufExportType::kQ4_K_M;
  return InvalidArgument("output type '" + std::string(name) +
                         "' is not one of keep, f32, f16, bf16, q8_0, q4_0, q4_k_m");
}

Result<GgufExportSummary> ExportGguf(const GgufExportOptions& o) {
  std::error_code ec;
  if (!fs::is_directory(o.model_dir, ec)) return NotFound(o.model_dir + ": no such folder");
  if (o.out_path.empty()) return InvalidArgument("export-gguf: no output path");
  GgufExportSummary summary;
  ASSIGN_OR_RETURN(summary.config, formats::ReadModelConfig(o.model_dir + "/config.json"));
  const formats::ModelConfig& config = summary.config;
  ASSIGN_OR_RETURN(formats::SafetensorsModel st,
                   formats::SafetensorsModel::OpenFolder(o.model_dir));
  std::vector<TensorJob> jobs;
  for (const WeightSpec& w : HfWeightLayout(config)) {
    ASSIGN_OR_RETURN(TensorJob job, PlanTensor(config, st, w, o.out_type));
    jobs.push_back(std::move(job));
  }
  ASSIGN_OR_RETURN(TokenizerSpec spec, LoadSpec(o));

  summary.arch = config.architecture == formats::Architecture::kQwen2 ? "qwen2" : "llama";
  summary.file_type = FileType(jobs, o.out_type);
  GgufWriter w;
  AddModelMetadata(config, summary.arch, FolderName(o.model_dir), summary.file_type, w);
  RETURN_IF_ERROR(AddTokenizerMetadata(spec, config.vocab_size, w));
  for (const TensorJob& job : jobs) {
    if (job.NeedsCopy()) {
      w.AddTensorProducer(job.gguf_name, job.out_type, job.dims,
                          [&job](std::span<uint8_t> out) { return ProduceTensor(job, out); });
    } else {
      w.AddTensorView(job.gguf_name, job.out_type, job.dims, job.src->data);
    }
  }
  RETURN_IF_ERROR(w.WriteToFile(o.out_path));  // st and jobs outlive the write: views stay valid
  summary.n_tensors = jobs.size();
  for (const TensorJob& job : jobs) {
    Result<formats::GgmlTensorSize> size =
        formats::ComputeGgmlTensorSize(static_cast<uint32_t>(job.out_type), job.dims);
    if (size.ok()) summary.tensor_bytes += size->n_bytes;
  }
  summary.file_bytes = fs::file_size(o.out_path, ec);
  return summary;
}

}  // namespace medassist::model
