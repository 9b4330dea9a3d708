// The CPU reference device: weights used in place in the file mapping,
// activations and KV cache in f32, ops threaded over a persistent pool.
#pragma once

#include <memory>

#include "model/backend.h"

namespace worker::cpu {

std::unique_ptr<model::Backend> create_cpu_backend(int n_threads);

}  // namespace worker::cpu
