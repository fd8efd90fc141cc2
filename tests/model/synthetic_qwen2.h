// A small random-weight Qwen2 model for forward-pass tests: q/k/v biases (nonzero), GQA 2:1,
// rope_theta 1e6, tied output head; written once per test binary with synth-model.
#pragma once

#include "model/model.h"

namespace medassist::model::testing {

// The model, opened from a folder under the temp dir that lives until the process exits.
const Model& SyntheticQwen2();

}  // namespace medassist::model::testing
