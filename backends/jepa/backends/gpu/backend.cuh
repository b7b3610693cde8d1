// The GPU backend as the ops see it: every jepa::gpu function named in a JEPA_ON_DEVICE call.
// Included by ops/common.hpp in translation units compiled by nvcc (or hipcc), which also
// defines JEPA_WITH_GPU there; other translation units never see this header.
// One kernel source for CUDA and HIP: only gpu/vendor.hpp spells vendor names.
#pragma once
#include <jepa/backends/gpu/allocator.cuh>
#include <jepa/backends/gpu/attention.cuh>
#include <jepa/backends/gpu/elementwise.cuh>
#include <jepa/backends/gpu/gemm.cuh>
#include <jepa/backends/gpu/index.cuh>
#include <jepa/backends/gpu/layernorm.cuh>
#include <jepa/backends/gpu/optim.cuh>
#include <jepa/backends/gpu/reduce.cuh>
#include <jepa/backends/gpu/softmax.cuh>
