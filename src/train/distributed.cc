#include "train/distributed.h"

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <fmt/format.h>

namespace medassist::train {

struct DataParallel::Group {
  c10::intrusive_ptr<::c10d::Store> store;
  c10::intrusive_ptr<::c10d::ProcessGroupGloo> pg;
};

DataParallel::~DataParallel() = default;

Result<std::unique_ptr<DataParallel>> DataParallel::Create(const DistributedOptions& options) {
  std::unique_ptr<DataParallel> dp(new DataParallel());
  dp->rank_ = options.rank;
  dp->world_size_ = options.world_size;
  if (options.world_size == 1) return dp;
  try {
    auto group = std::make_unique<Group>();
    if (!options.init_file.empty()) {
      group->store = c10::make_intrusive<::c10d::FileStore>(options.init_file, options.world_size);
    } else {
      ::c10d::TCPStoreOptions store_options;
      store_options.port = static_cast<uint16_t>(options.master_port);
      store_options.isServer = options.rank == 0;
      store_options.numWorkers = options.world_size;
      group->store = c10::make_intrusive<::c10d::TCPStore>(options.master_addr, store_options);
    }
    auto pg_options = ::c10d::ProcessGroupGloo::Options::create(std::chrono::minutes(10));
    pg_options->devices.push_back(::c10d::ProcessGroupGloo::createDeviceForHostname(
        options.init_file.empty() ? options.master_addr : "127.0.0.1"));
    group->pg = c10::make_intrusive<::c10d::ProcessGroupGloo>(group->store, options.rank,
                                                              options.world_size, pg_options);
    dp->group_ = std::move(group);
  } catch (const std::exception& e) {
    return Unavailable(
        fmt::format("data parallel rank {} of {}: the Gloo process group did not "
                    "start: {}",
                    options.rank, options.world_size, e.what()));
  }
  return dp;
}

Status DataParallel::AllReduceSum(const std::vector<torch::Tensor>& tensors) {
  if (!group_) return Status::Ok();
  try {
    std::vector<torch::Tensor> flat = {torch::cat(
        [&] {
          std::vector<torch::Tensor> parts;
          // On the CPU for Gloo (a no-op for CPU tensors; GPU gradients make a round trip).
          for (const torch::Tensor& t : tensors) {
            parts.push_back(t.reshape({-1}).to(torch::kCPU, torch::kFloat64));
          }
          return parts;
        }(),
        0)};
    group_->pg->allreduce(flat)->wait();
    int64_t offset = 0;
    for (const torch::Tensor& t : tensors) {
      t.copy_(flat[0].narrow(0, offset, t.numel()).view_as(t));
      offset += t.numel();
    }
  } catch (const std::exception& e) {
    return Unavailable(fmt::format("all-reduce on rank {}: {}", rank_, e.what()));
  }
  return Status::Ok();
}

Status DataParallel::Barrier() {
  if (!group_) return Status::Ok();
  try {
    group_->pg->barrier()->wait();
  } catch (const std::exception& e) {
    return Unavailable(fmt::format("barrier on rank {}: {}", rank_, e.what()));
  }
  return Status::Ok();
}

}  // namespace medassist::train
