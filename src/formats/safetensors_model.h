// The weights of a Hugging Face model folder: either one model.safetensors, or
// model.safetensors.index.json and the shards it names:
//
//   {"metadata": {"total_size": 123}, "weight_map": {"lm_head.weight":
//       "model-00002-of-00002.safetensors", ...}}
//
//   ASSIGN_OR_RETURN(SafetensorsModel m, SafetensorsModel::OpenFolder(dir));
//   const SafetensorsTensor* w = m.Find("model.layers.0.self_attn.q_proj.weight");
//
// A single model.safetensors wins when both are present (as transformers does). The index and the
// shards must agree exactly: every shard it names exists, every tensor it lists is in the shard it
// names, no tensor is in two shards, and no shard holds a tensor the index does not list. Shard
// names must be plain file names (no '/', '\', NUL, "." or ".."), so nothing outside the folder is
// read through the index; a symlink inside the folder is followed like any file.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "formats/safetensors_reader.h"

namespace medassist::formats {

inline constexpr char kSafetensorsSingleFile[] = "model.safetensors";
inline constexpr char kSafetensorsIndexFile[] = "model.safetensors.index.json";

class SafetensorsModel {
 public:
  // Opens the folder's weights (each file memory-mapped). NotFound when the folder has neither
  // file, or a shard is missing; DataLoss for a malformed file or an index that disagrees with its
  // shards. Messages name the file.
  static Result<SafetensorsModel> OpenFolder(const std::string& dir);

  SafetensorsModel(SafetensorsModel&&) = default;
  SafetensorsModel& operator=(SafetensorsModel&&) = default;

  const std::string& dir() const { return dir_; }
  // One file for a single-file model, else the shards sorted by file name.
  const std::vector<SafetensorsFile>& files() const { return files_; }
  // Tensors across all files.
  size_t n_tensors() const { return index_.size(); }
  // nullptr when no file has a tensor of that name. The tensor's data is valid while this lives.
  const SafetensorsTensor* Find(std::string_view name) const;

 private:
  SafetensorsModel() = default;
  Status OpenSharded(const std::string& index_path);
  // Adds every tensor of files_.back() to index_, refusing a name already there.
  Status IndexLastFile(const std::string& index_path);

  std::string dir_;
  std::vector<SafetensorsFile> files_;
  // name -> (position in files_, position in that file's tensors())
  std::map<std::string, std::pair<size_t, size_t>, std::less<>> index_;
};

}  // namespace medassist::formats
