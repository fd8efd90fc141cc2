// The F32 reference forward pass: plain scalar loops, no SIMD, no threads, no tricks. It is the
// oracle that every fast path is tested against on identical batches, so it favours being obviously
// right over being fast.
//
// Batch invariance (DESIGN §2b): every output value is reduced in one fixed order that depends only
// on its own row (dot products over the inner dimension in index order, attention over positions
// 0..p in order), so a sequence's logits are bit-identical whatever else shares the batch and
// however its prompt is chunked.
#pragma once

#include <span>

#include "core/status.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace medassist::model {

// Runs the batch through the model, writing K/V of every row into kv at the row's position, and
// the logits of each row with logits == true into logits_out (n_logit_rows x vocab_size, in row
// order). InvalidArgument for an invalid batch (ValidateBatch), a KV cache of another model's
// shape, or a logits_out of the wrong size; nothing is written then.
Status ForwardReference(const Model& model, const Batch& batch, KvCache& kv,
                        std::span<float> logits_out);

// The checks both forward passes make before computing anything: a valid batch (ValidateBatch),
// a KV cache of this model's shape, a logits buffer of n_logit_rows x vocab_size floats.
Status CheckForwardInputs(const Model& model, const Batch& batch, const KvCache& kv,
                          std::span<float> logits_out);

}  // namespace medassist::model
