#include "model/gguf_export.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <span>
#include <vector>

#include <unistd.h>

#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "formats/safetensors_model.h"
#include "kernels/dequantize.h"
#include "kernels/fp16.h"
#include "model/model.h"
#include "model/model_loaders.h"
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
using kernels::RowBytes;
using kernels::WeightFormat;
using tokenizer::TokenizerSpec;
using tokenizer::TokenKind;

// ---- element conversion --------------------------------------------------------------------

// Source elements are little-endian and possibly unaligned (safetensors does not align).
float LoadElement(const uint8_t* p, WeightFormat format) {
  if (format == WeightFormat::kF32) {
    float f;
    std::memcpy(&f, p, sizeof f);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p, sizeof h);
  return format == WeightFormat::kF16 ? kernels::F16ToF32(h) : kernels::BF16ToF32(h);
}

GgmlType GgmlTypeOf(WeightFormat f) {
  switch (f) {
    case WeightFormat::kF32:
      return GgmlType::kF32;
    case WeightFormat::kF16:
      return GgmlType::kF16;
    case WeightFormat::kBF16:
      return GgmlType::kBF16;
    case WeightFormat::kQ8_0:
      return GgmlType::kQ8_0;
    case WeightFormat::kQ4_0:
      return GgmlType::kQ4_0;
    case WeightFormat::kQ5_0:
      return GgmlType::kQ5_0;
    case WeightFormat::kQ4_K:
      return GgmlType::kQ4_K;
    case WeightFormat::kQ6_K:
      return GgmlType::kQ6_K;
  }
  return GgmlType::kF32;
}

WeightFormat FormatOf(SafetensorsDtype dtype) {
  if (dtype == SafetensorsDtype::kF16) return WeightFormat::kF16;
  if (dtype == SafetensorsDtype::kBF16) return WeightFormat::kBF16;
  return WeightFormat::kF32;
}

// ---- tensors -----------------------------------------------------------------------------------

// One tensor of the output and where its data comes from.
struct TensorJob {
  std::string gguf_name;
  WeightFormat src_type = WeightFormat::kF32;
  std::span<const uint8_t> src;  // rows x cols of src_type, row-major (a view into the input)
  WeightFormat out_type = WeightFormat::kF32;
  std::vector<uint64_t> dims;  // ggml order: PyTorch shape reversed
  int64_t rows = 1, cols = 1;  // PyTorch (rows, cols); a 1-D tensor is (n, 1)
  int64_t head_dim = 0;        // > 0: permute rows within heads of head_dim rows (llama q/k)

  bool NeedsCopy() const { return head_dim > 0 || out_type != src_type; }
  uint64_t out_bytes() const { return static_cast<uint64_t>(rows * RowBytes(out_type, cols)); }
};

// HF rotate_half keeps rope pairs (j, j + d/2) of a head apart; llama.cpp's LLAMA rope wants them
// adjacent: GGUF row 2j <- HF row j, GGUF row 2j+1 <- HF row j + d/2 (inverse of HF's convert).
int64_t HfRowOfGgufRow(int64_t row, int64_t head_dim) {
  const int64_t head = row / head_dim, i = row % head_dim;
  return head * head_dim + (i % 2) * (head_dim / 2) + i / 2;
}

// Source row r as floats (dequantised for block types): out has job.cols elements.
void SourceRow(const TensorJob& job, int64_t r, float* out) {
  const uint8_t* in = job.src.data() + r * RowBytes(job.src_type, job.cols);
  if (IsBlockFormat(job.src_type)) {
    kernels::DequantizeRow(job.src_type, in, job.cols, out);
    return;
  }
  const int64_t size = RowBytes(job.src_type, 1);
  for (int64_t c = 0; c < job.cols; ++c) out[c] = LoadElement(in + c * size, job.src_type);
}

// Fills out (rows * cols elements of job.out_type) from the source, permuted and converted.
Status ProduceTensor(const TensorJob& job, std::span<uint8_t> out) {
  const int64_t in_row_bytes = RowBytes(job.src_type, job.cols);
  const int64_t out_row_bytes = RowBytes(job.out_type, job.cols);
  std::vector<float> row(static_cast<size_t>(job.cols));
  for (int64_t r = 0; r < job.rows; ++r) {
    const int64_t src_row = job.head_dim > 0 ? HfRowOfGgufRow(r, job.head_dim) : r;
    uint8_t* o = out.data() + r * out_row_bytes;
    if (job.out_type == job.src_type) {  // bit-exact (NaN payloads included)
      std::memcpy(o, job.src.data() + src_row * in_row_bytes, static_cast<size_t>(in_row_bytes));
      continue;
    }
    SourceRow(job, src_row, row.data());
    EncodeRow(job.out_type, row.data(), job.cols, o);
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

// The job of layout tensor w, whose source is src (src_type): name, dims and output type (1-D
// tensors, norms and biases, are always F32 as llama.cpp keeps them; matrices follow the mix).
Result<TensorJob> MakeJob(const formats::ModelConfig& config, const WeightSpec& w,
                          WeightFormat src_type, std::span<const uint8_t> src, WeightMix mix) {
  std::optional<std::string> name = GgufTensorName(w.name);
  if (!name) return Internal("no GGUF name for layout tensor '" + w.name + "'");
  TensorJob job;
  job.gguf_name = *name;
  job.src_type = src_type;
  job.src = src;
  job.dims.assign(w.shape.rbegin(), w.shape.rend());
  job.rows = static_cast<int64_t>(w.shape[0]);
  job.cols = w.shape.size() == 2 ? static_cast<int64_t>(w.shape[1]) : 1;
  job.out_type = w.shape.size() == 1 ? WeightFormat::kF32
                                     : MatrixFormat(mix, config, w.name, job.cols, src_type);
  return job;
}

Result<TensorJob> PlanTensor(const formats::ModelConfig& config,
                             const formats::SafetensorsModel& st, const WeightSpec& w,
                             WeightMix mix) {
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
  ASSIGN_OR_RETURN(TensorJob job, MakeJob(config, w, FormatOf(t->dtype), t->data, mix));
  job.head_dim = PermuteHeadDim(config, w.name);
  return job;
}

// A tensor of a model opened from a GGUF file: already in GGUF row order (no permutation).
Result<TensorJob> PlanGgufTensor(const Model& m, const WeightSpec& w, const GgufExportOptions& o) {
  const Weight& src = WeightByHfName(m.weights(), w.name);
  const std::span<const uint8_t> bytes(src.data, static_cast<size_t>(src.rows * src.row_bytes()));
  ASSIGN_OR_RETURN(TensorJob job, MakeJob(m.config(), w, src.type, bytes, o.out_type));
  RETURN_IF_ERROR(CheckRequantize(m.path(), src.name, src.type, job.out_type, o.allow_requantize,
                                  "Start from the original weights, or pass --allow-requantize"));
  return job;
}

// general.file_type: llama.cpp's LLAMA_FTYPE of the export: the quantised mixes by name (7 Q8_0,
// 2 Q4_0, 14 Q4_K, 15 Q4_K_M), else the majority matrix type (0 F32, 1 F16, 32 BF16).
uint32_t FileType(const std::vector<TensorJob>& jobs, WeightMix mix) {
  if (mix == WeightMix::kQ8_0) return 7;
  if (mix == WeightMix::kQ4_0) return 2;
  if (mix == WeightMix::kQ4_K) return 14;  // LLAMA_FTYPE_MOSTLY_Q4_K_S: Q4_K throughout
  if (mix == WeightMix::kQ4_K_M) return 15;
  size_t n_f32 = 0, n_f16 = 0, n_bf16 = 0;
  for (const TensorJob& j : jobs) {
    if (j.dims.size() < 2) continue;
    n_f32 += j.out_type == WeightFormat::kF32;
    n_f16 += j.out_type == WeightFormat::kF16;
    n_bf16 += j.out_type == WeightFormat::kBF16;
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

// Refuses an output that would overwrite the input or cannot be created, before any work.
Status CheckOutPath(const std::string& in, const std::string& out) {
  if (out.empty()) return InvalidArgument("no output path");
  std::error_code ec;
  if (fs::is_directory(out, ec)) return InvalidArgument(out + ": is a folder; name a .gguf file");
  if (fs::exists(out, ec) && fs::equivalent(in, out, ec)) {
    return InvalidArgument(out + ": the output is the input; writing it would replace the " +
                           "weights being read. Name another output file");
  }
  fs::path parent = fs::path(out).parent_path();
  if (parent.empty()) parent = ".";
  if (!fs::is_directory(parent, ec)) {
    return NotFound(out + ": cannot write the output: folder " + parent.string() +
                    " does not exist");
  }
  if (::access(parent.c_str(), W_OK) != 0) {
    return IoError(out + ": cannot write the output: folder " + parent.string() +
                   " is not writable");
  }
  return Status::Ok();
}

// Tensor counts and bytes per output type, in the order the types first appear.
void Summarise(const std::vector<TensorJob>& jobs, GgufExportSummary& summary) {
  summary.n_tensors = jobs.size();
  for (const TensorJob& job : jobs) {
    const std::string_view type = kernels::Traits(job.out_type).name;
    auto it = std::find_if(summary.by_type.begin(), summary.by_type.end(),
                           [&](const GgufTypeCount& c) { return c.type == type; });
    if (it == summary.by_type.end()) {
      summary.by_type.push_back({std::string(type)});
      it = summary.by_type.end() - 1;
    }
    it->n_tensors += 1;
    it->n_elements += static_cast<uint64_t>(job.rows * job.cols);
    it->source_bytes += job.src.size();
    it->bytes += job.out_bytes();
    summary.source_bytes += job.src.size();
    summary.tensor_bytes += job.out_bytes();
  }
}

// Adds the tensors (views when unconverted, producers otherwise), writes the file atomically and
// fills the summary. The jobs' sources must stay mapped until it returns.
Status WriteTensors(const std::vector<TensorJob>& jobs, const std::string& out_path, GgufWriter& w,
                    GgufExportSummary& summary) {
  for (const TensorJob& job : jobs) {
    if (job.NeedsCopy()) {
      w.AddTensorProducer(job.gguf_name, GgmlTypeOf(job.out_type), job.dims,
                          [&job](std::span<uint8_t> out) { return ProduceTensor(job, out); });
    } else {
      w.AddTensorView(job.gguf_name, GgmlTypeOf(job.out_type), job.dims, job.src);
    }
  }
  RETURN_IF_ERROR(w.WriteToFile(out_path));
  Summarise(jobs, summary);
  std::error_code ec;
  summary.file_bytes = fs::file_size(out_path, ec);
  return Status::Ok();
}

// A GGUF input: the model is opened (and checked) by the loader; its metadata, tokenizer
// included, is copied with general.file_type updated, and each tensor converted by the mix.
Result<GgufExportSummary> ExportFromGguf(const GgufExportOptions& o) {
  if (!o.tokenizer_path.empty()) {
    return InvalidArgument(o.model_dir + ": a GGUF input keeps its own tokenizer; drop " +
                           "--tokenizer");
  }
  ASSIGN_OR_RETURN(Model m, Model::Open(o.model_dir));
  GgufExportSummary summary;
  summary.config = m.config();
  summary.arch = m.config().architecture == formats::Architecture::kQwen2 ? "qwen2" : "llama";
  std::vector<TensorJob> jobs;
  for (const WeightSpec& spec : HfWeightLayout(m.config())) {
    ASSIGN_OR_RETURN(TensorJob job, PlanGgufTensor(m, spec, o));
    jobs.push_back(std::move(job));
  }
  const formats::GgufFile& in = *m.gguf();
  summary.file_type = FileType(jobs, o.out_type);
  if (o.out_type == WeightMix::kKeep && in.Find("general.file_type") != nullptr) {
    ASSIGN_OR_RETURN(summary.file_type, in.GetUint32("general.file_type"));
  }
  GgufWriter w;
  for (const formats::GgufKeyValue& kv : in.metadata()) {
    if (kv.key == "general.file_type") continue;
    w.AddValue(kv.key, kv.value);
    if (kv.key == "general.architecture") w.AddUint32("general.file_type", summary.file_type);
  }
  RETURN_IF_ERROR(WriteTensors(jobs, o.out_path, w, summary));
  return summary;
}

}  // namespace

Result<GgufExportType> ParseGgufExportType(std::string_view name) { return ParseWeightMix(name); }

Result<GgufExportSummary> ExportGguf(const GgufExportOptions& o) {
  std::error_code ec;
  const bool gguf_input = fs::is_regular_file(o.model_dir, ec) && o.model_dir.ends_with(".gguf");
  if (!gguf_input && !fs::is_directory(o.model_dir, ec)) {
    return NotFound(o.model_dir + ": no such folder (or .gguf file)");
  }
  RETURN_IF_ERROR(CheckOutPath(o.model_dir, o.out_path));
  if (gguf_input) return ExportFromGguf(o);
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
  RETURN_IF_ERROR(WriteTensors(jobs, o.out_path, w, summary));  // st outlives the write
  return summary;
}

}  // namespace medassist::model
