#include "formats/safetensors_model.h"

#include "core/file.h"
#include "formats/gguf_util.h"
#include "formats/json_util.h"
#include "formats/safetensors_json.h"

namespace medassist::formats {
namespace {

// An index is a name -> file map: megabytes for the largest models.
constexpr size_t kMaxIndexBytes = size_t{100} << 20;

bool IsPlainFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string_view("/\\\0", 3)) == std::string::npos;
}

// The weight_map of a parsed index as tensor -> shard file name, each name checked.
Result<std::map<std::string, std::string>> ReadWeightMap(const nlohmann::json& index,
                                                         const std::string& path) {
  if (!index.is_object() || !index.contains("weight_map")) {
    return DataLoss(path + ": expected a JSON object with a 'weight_map'");
  }
  const nlohmann::json& map = index["weight_map"];
  if (!map.is_object() || map.empty()) {
    return DataLoss(path + ": 'weight_map' must be a non-empty object of tensor -> shard file");
  }
  std::map<std::string, std::string> out;
  for (const auto& [tensor, shard] : map.items()) {
    if (!shard.is_string()) {
      return DataLoss(path + ": weight_map " + QuotePrintable(tensor) +
                      " must be a shard file name (a string)");
    }
    const std::string& name = shard.get_ref<const std::string&>();
    if (!IsPlainFileName(name)) {
      return DataLoss(path + ": weight_map " + QuotePrintable(tensor) + " names shard " +
                      QuotePrintable(name) +
                      ", which is not a plain file name in the folder (refused: no paths)");
    }
    out.emplace(tensor, name);
  }
  return out;
}

}  // namespace

Result<SafetensorsModel> SafetensorsModel::OpenFolder(const std::string& dir) {
  SafetensorsModel model;
  model.dir_ = dir;
  const std::string single = dir + "/" + kSafetensorsSingleFile;
  const std::string index = dir + "/" + kSafetensorsIndexFile;
  if (FileExists(single)) {
    ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(single));
    model.files_.push_back(std::move(file));
    RETURN_IF_ERROR(model.IndexLastFile(single));
  } else if (FileExists(index)) {
    RETURN_IF_ERROR(model.OpenSharded(index));
  } else {
    return NotFound(dir + ": no " + kSafetensorsSingleFile + " or " + kSafetensorsIndexFile +
                    " (is this a Hugging Face model folder with safetensors weights?)");
  }
  return model;
}

Status SafetensorsModel::OpenSharded(const std::string& index_path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(index_path, kMaxIndexBytes));
  ASSIGN_OR_RETURN(const nlohmann::json index, ParseJson(text, index_path));
  RETURN_IF_ERROR(CheckJsonUniqueKeys(text, index_path));
  ASSIGN_OR_RETURN(const auto weight_map, ReadWeightMap(index, index_path));
  std::map<std::string, std::string> shards;  // file name -> first tensor listed in it
  for (const auto& [tensor, shard] : weight_map) shards.emplace(shard, tensor);
  for (const auto& [shard, tensor] : shards) {
    const std::string path = dir_ + "/" + shard;
    if (!FileExists(path)) {
      return NotFound(index_path + ": shard " + QuotePrintable(shard) + " (listed for tensor " +
                      QuotePrintable(tensor) + ") is missing from the folder");
    }
    ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
    files_.push_back(std::move(file));
    RETURN_IF_ERROR(IndexLastFile(index_path));
  }
  for (const auto& [tensor, shard] : weight_map) {
    auto it = index_.find(tensor);
    if (it == index_.end() || files_[it->second.first].source() != dir_ + "/" + shard) {
      return DataLoss(index_path + ": tensor " + QuotePrintable(tensor) + " is listed in shard " +
                      QuotePrintable(shard) + ", which does not contain it");
    }
  }
  for (const auto& [tensor, where] : index_) {
    if (!weight_map.contains(tensor)) {
      return DataLoss(index_path + ": shard " + files_[where.first].source() + " holds tensor " +
                      QuotePrintable(tensor) + ", which the index does not list");
    }
  }
  return Status::Ok();
}

Status SafetensorsModel::IndexLastFile(const std::string& index_path) {
  const size_t f = files_.size() - 1;
  const std::vector<SafetensorsTensor>& tensors = files_[f].tensors();
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto [it, inserted] = index_.emplace(tensors[i].name, std::make_pair(f, i));
    if (!inserted) {
      return DataLoss(index_path + ": tensor " + QuotePrintable(tensors[i].name) +
                      " is in two shards, " + files_[it->second.first].source() + " and " +
                      files_[f].source());
    }
  }
  return Status::Ok();
}

const SafetensorsTensor* SafetensorsModel::Find(std::string_view name) const {
  auto it = index_.find(name);
  if (it == index_.end()) return nullptr;
  return &files_[it->second.first].tensors()[it->second.second];
}

}  // namespace medassist::formats
