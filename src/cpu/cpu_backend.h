// The CPU reference device: weights used in place in the file mapping,
// activations and KV cache in f32, ops threaded over a persistent pool.
#pragma once

#include <memory>

#include "cpu/cpu_features.h"
#include "model/backend.h"

namespace worker::cpu {

// `n_threads` workers; every kernel at instruction-set `level` (capped at
// what the CPU has), by default the level of the free kernel functions.
std::unique_ptr<model::Backend> create_cpu_backend(int n_threads, CpuIsa level = cpu_isa());

}  // namespace worker::cpu
