// Data parallelism over processes with PyTorch's c10d: Gloo on CPU. Every rank holds the whole
// adapter, computes its share of each global batch (batch_plan.h), and the gradients are summed
// with one all-reduce per optimizer step, so every rank applies the same update.
//
// Rendezvous: a c10d FileStore on a path all ranks see (one machine, a shared disk), or a
// TCPStore served by rank 0 at master_addr:master_port (torchrun's MASTER_ADDR / MASTER_PORT).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "core/status.h"
#include "train/train_options.h"

namespace medassist::train {

class DataParallel {
 public:
  // world_size 1: no process group, every call is a no-op.
  static Result<std::unique_ptr<DataParallel>> Create(const DistributedOptions& options);
  ~DataParallel();

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  bool is_main() const { return rank_ == 0; }

  // Sums each tensor over the ranks in place (one flattened all-reduce for all of them).
  Status AllReduceSum(const std::vector<torch::Tensor>& tensors);
  Status Barrier();

 private:
  DataParallel() = default;
  struct Group;
  std::unique_ptr<Group> group_;
  int rank_ = 0;
  int world_size_ = 1;
};

}  // namespace medassist::train
