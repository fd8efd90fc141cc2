#include "apps/merge_command.h"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "apps/options.h"
#include "core/file.h"
#include "core/thread_pool.h"
#include "formats/safetensors_stream_writer.h"
#include "model/gguf_export.h"
#include "model/model.h"
#include "model/model_path.h"
#include "model/weight_layout.h"

namespace medassist::apps {
namespace {

namespace fs = std::filesystem;
using formats::SafetensorsDtype;

// Copied from the base when present: what save_pretrained writes beside the weights, and the
// tokenizer files tokenizer.save_pretrained writes.
constexpr const char* kCopiedFiles[] = {"config.json",
                                        "generation_config.json",
                                        "tokenizer.json",
                                        "tokenizer_config.json",
                                        "vocab.json",
                                        "merges.txt",
                                        "special_tokens_map.json",
                                        "added_tokens.json",
                                        "chat_template.jinja"};

constexpr fs::perms kDirMode = fs::perms::owner_all | fs::perms::group_read |
                               fs::perms::group_exec | fs::perms::others_read |
                               fs::perms::others_exec;

struct OutTensor {
  formats::SafetensorsTensorSpec spec;
  std::span<const uint8_t> bytes;
};

Result<SafetensorsDtype> StoredDtype(const model::Weight& w) {
  switch (w.type) {
    case kernels::WeightFormat::kF32:
      return SafetensorsDtype::kF32;
    case kernels::WeightFormat::kF16:
      return SafetensorsDtype::kF16;
    case kernels::WeightFormat::kBF16:
      return SafetensorsDtype::kBF16;
    default:
      return InvalidArgument(w.name + ": a block-quantised weight cannot be saved as safetensors");
  }
}

// Every tensor of the (merged) model in Hugging Face module order, in its stored type.
Result<std::vector<OutTensor>> CollectTensors(const model::Model& m) {
  std::vector<OutTensor> out;
  for (const model::WeightSpec& spec : model::HfWeightLayout(m.config())) {
    const model::Weight& w = model::WeightByHfName(m.weights(), spec.name);
    ASSIGN_OR_RETURN(SafetensorsDtype dtype, StoredDtype(w));
    const size_t n = static_cast<size_t>(w.rows * w.row_bytes());
    out.push_back({{spec.name, dtype, spec.shape}, std::span<const uint8_t>(w.data, n)});
  }
  return out;
}

// transformers' sharding (huggingface_hub split_torch_state_dict_into_shards): tensors in order,
// a new shard when the next tensor would pass max_bytes (a tensor larger than that gets a shard of
// its own). Returns the index of the first tensor of each shard.
std::vector<size_t> PlanShards(const std::vector<OutTensor>& tensors, uint64_t max_bytes) {
  std::vector<size_t> starts;
  uint64_t in_shard = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const uint64_t n = tensors[i].bytes.size();
    if (starts.empty() || (in_shard > 0 && in_shard + n > max_bytes)) {
      starts.push_back(i);
      in_shard = 0;
    }
    in_shard += n;
  }
  return starts;
}

std::string ShardName(size_t i, size_t n) {
  char name[64];
  std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", i + 1, n);
  return name;
}

Status WriteShard(const std::string& path, const std::vector<OutTensor>& tensors, size_t begin,
                  size_t end) {
  std::vector<formats::SafetensorsTensorSpec> specs;
  for (size_t i = begin; i < end; ++i) specs.push_back(tensors[i].spec);
  ASSIGN_OR_RETURN(formats::SafetensorsStreamWriter w,
                   formats::SafetensorsStreamWriter::Create(path, specs, {{"format", "pt"}}));
  for (size_t i = begin; i < end; ++i) {
    if (!tensors[i].bytes.empty()) RETURN_IF_ERROR(w.Append(tensors[i].bytes));
  }
  return w.Finish();
}

Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f.flush()) return IoError(path + ": cannot write");
  return Status::Ok();
}

// The weights as model.safetensors or shards + model.safetensors.index.json, into dir.
Result<size_t> WriteWeights(const model::Model& m, const std::string& dir, uint64_t max_bytes,
                            uint64_t* total_bytes) {
  ASSIGN_OR_RETURN(std::vector<OutTensor> tensors, CollectTensors(m));
  const std::vector<size_t> starts = PlanShards(tensors, max_bytes);
  *total_bytes = 0;
  for (const OutTensor& t : tensors) *total_bytes += t.bytes.size();
  if (starts.size() == 1) {
    RETURN_IF_ERROR(WriteShard(dir + "/model.safetensors", tensors, 0, tensors.size()));
    return size_t{1};
  }
  nlohmann::json weight_map = nlohmann::json::object();
  for (size_t s = 0; s < starts.size(); ++s) {
    const size_t end = s + 1 < starts.size() ? starts[s + 1] : tensors.size();
    const std::string name = ShardName(s, starts.size());
    RETURN_IF_ERROR(WriteShard(dir + "/" + name, tensors, starts[s], end));
    for (size_t i = starts[s]; i < end; ++i) weight_map[tensors[i].spec.name] = name;
  }
  const nlohmann::json index = {{"metadata", {{"total_size", *total_bytes}}},
                                {"weight_map", weight_map}};
  RETURN_IF_ERROR(WriteText(dir + "/model.safetensors.index.json", index.dump(2) + "\n"));
  return starts.size();
}

Status CopyBaseFiles(const std::string& base, const std::string& dir) {
  for (const char* name : kCopiedFiles) {
    const std::string from = base + "/" + name;
    if (!fs::is_regular_file(from)) continue;
    RETURN_IF_ERROR(CopyFileInto(from, dir, name));
  }
  return Status::Ok();
}

// Builds the merged folder under a temporary name beside out and renames it into place.
Result<MergeSummary> WriteMergedFolder(const model::Model& m, const std::string& out,
                                       uint64_t max_bytes, MergeSummary summary) {
  const fs::path out_path(out);
  fs::path parent = out_path.parent_path();
  if (parent.empty()) parent = ".";
  std::string tmp = parent.string();
  tmp.append("/.").append(out_path.filename().string()).append(".tmp-XXXXXX");
  if (::mkdtemp(tmp.data()) == nullptr) {
    return IoError(out + ": cannot create a folder in " + parent.string() + ": " +
                   std::strerror(errno));
  }
  Result<size_t> shards = WriteWeights(m, tmp, max_bytes, &summary.total_bytes);
  Status s = shards.ok() ? CopyBaseFiles(m.path(), tmp) : shards.status();
  std::error_code ec;
  if (s.ok()) {
    fs::permissions(tmp, kDirMode, ec);
    fs::remove(out, ec);  // an empty folder that CheckNewOutputFolder accepted, or nothing
    fs::rename(tmp, out, ec);
    if (ec) s = IoError(out + ": cannot rename " + tmp + " into place: " + ec.message());
  }
  if (!s.ok()) {
    fs::remove_all(tmp, ec);
    return s;
  }
  summary.n_shards = *shards;
  return summary;
}

int RunMerge(MergeOptions o, const std::string& shard_size) {
  Result<uint64_t> max_bytes = ParseShardSize(shard_size);
  Status s = max_bytes.status();
  if (s.ok()) {
    o.max_shard_bytes = *max_bytes;
    s = MergeAdapterFolder(o).status();
  }
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s.append(s.empty() ? "" : ",").append(n);
  return s;
}

}  // namespace

Result<uint64_t> ParseShardSize(std::string_view text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, value);
  const std::string_view unit(p, static_cast<size_t>(end - p));
  struct Unit {
    std::string_view name;
    uint64_t factor;
  };
  constexpr Unit kUnits[] = {{"", 1},
                             {"B", 1},
                             {"KB", 1'000},
                             {"MB", 1'000'000},
                             {"GB", 1'000'000'000},
                             {"KiB", uint64_t{1} << 10},
                             {"MiB", uint64_t{1} << 20},
                             {"GiB", uint64_t{1} << 30}};
  if (ec == std::errc() && p != text.data() && value > 0) {
    for (const Unit& u : kUnits) {
      if (unit == u.name && value <= UINT64_MAX / u.factor) return value * u.factor;
    }
  }
  return InvalidArgument("--max-shard-size: '" + std::string(text) +
                         "' is not a size such as 5GB, 500MB, 2GiB or a byte count");
}

Result<MergeSummary> MergeAdapterFolder(const MergeOptions& o) {
  if (o.base.empty() || o.adapter.empty() || o.out.empty()) {
    return InvalidArgument("merge needs --base DIR, --adapter DIR and --out DIR");
  }
  if (o.max_shard_bytes == 0) return InvalidArgument("--max-shard-size must be positive");
  std::string out = o.out;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  RETURN_IF_ERROR(CheckNewOutputFolder(out));
  ASSIGN_OR_RETURN(std::string base, model::ResolveModelPath(o.base));
  if (!fs::is_directory(base)) {
    return InvalidArgument(base +
                           ": merge needs a Hugging Face safetensors folder as --base (a GGUF "
                           "file cannot be written back as one); load the GGUF with --lora "
                           "ADAPTER instead, or merge into the original safetensors folder");
  }
  ASSIGN_OR_RETURN(model::LoraAdapter adapter, model::ReadPeftAdapter(o.adapter));
  ASSIGN_OR_RETURN(model::Model m, model::Model::Open(base));
  const auto start = std::chrono::steady_clock::now();
  ThreadPool pool(o.threads > 0 ? o.threads : DefaultThreadCount());
  MergeSummary summary;
  ASSIGN_OR_RETURN(summary.applied, model::ApplyLoraAdapter(m, adapter, pool));
  ASSIGN_OR_RETURN(summary, WriteMergedFolder(m, out, o.max_shard_bytes, summary));
  spdlog::info(
      "merged {} ({} matrices of {}, r {}, scale {}) into {}: {} shard(s), {:.1f} MB in "
      "{:.2f} s",
      o.adapter, summary.applied.n_matrices, JoinNames(summary.applied.modules), summary.applied.r,
      summary.applied.scale, out, summary.n_shards, static_cast<double>(summary.total_bytes) / 1e6,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (!o.gguf.empty()) {
    model::GgufExportOptions gguf;
    gguf.model_dir = out;
    gguf.out_path = o.gguf;
    ASSIGN_OR_RETURN(model::GgufExportSummary g, model::ExportGguf(gguf));
    spdlog::info("wrote {} ({} tensors, {:.1f} MB)", o.gguf, g.n_tensors,
                 static_cast<double>(g.file_bytes) / 1e6);
  }
  return summary;
}

void AddMergeCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<MergeOptions>();
  auto shard_size = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "merge", "Merge a PEFT LoRA adapter into a base model, written as a new model folder");
  AddDeclaredOption(*cmd, "--base", args->base);
  AddDeclaredOption(*cmd, "--adapter", args->adapter);
  AddDeclaredOption(*cmd, "--out", args->out);
  AddDeclaredOption(*cmd, "--gguf", args->gguf);
  AddDeclaredOption(*cmd, "--max-shard-size", *shard_size);
  AddDeclaredOption(*cmd, "--threads", args->threads);
  cmd->callback([args, shard_size, exit_code] { *exit_code = RunMerge(*args, *shard_size); });
}

}  // namespace medassist::apps
