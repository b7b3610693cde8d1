// The GPU kernels of a program: include this header in exactly one translation unit, compiled by
// nvcc (CUDA), hipcc (HIP) or g++ with JEPA_GPU_EMULATOR (the CPU emulation of a GPU,
// gpu/emulator.hpp). CMake's jepa_add_gpu_implementation(target) adds such a file. Every other
// translation unit, g++-compiled included, reaches these kernels through gpu/api.hpp.
// Invariants:
// - Defines jepa_gpu_backend() (the table api.hpp calls through) and a strong symbol that makes a
//   second including translation unit a link error, not two competing tables.
// - Registers the device's allocator and copies with the core (core/allocator.hpp) when the
//   program starts; touches no runtime API then, so a machine without a device starts normally.
// - Each elementwise id of api.hpp's lists instantiates its functor's kernels here, checked at
//   compile time to be the id the functor names.
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
#include <jepa/jepa.hpp>

namespace jepa::gpu::kernels::registration {

template <class F>
const F& functor(const void* bytes) {
  return *static_cast<const F*>(bytes);
}

#define JEPA_GPU_CASE1(id, type)                                                                    \
  case Map1::id:                                                                                    \
    static_assert(type::gpu_map1 == Map1::id, "functor " #type " names another id than " #id);     \
    return kernels::map1(out, x, functor<type>(f));
inline void map1(Map1 id, const void* f, const View& out, const View& x) {
  switch (id) { JEPA_GPU_MAP1_FUNCTIONS(JEPA_GPU_CASE1) }
  fail("map1", "unknown elementwise function id ", static_cast<int>(id));
}
#undef JEPA_GPU_CASE1

#define JEPA_GPU_CASE2(id, type)                                                                    \
  case Map2::id:                                                                                    \
    static_assert(type::gpu_map2 == Map2::id, "functor " #type " names another id than " #id);     \
    return kernels::map2(out, a, sa, b, sb, functor<type>(f));
inline void map2(Map2 id, const void* f, const View& out, const View& a, const Shape& sa, const View& b,
                 const Shape& sb) {
  switch (id) { JEPA_GPU_MAP2_FUNCTIONS(JEPA_GPU_CASE2) }
  fail("map2", "unknown elementwise function id ", static_cast<int>(id));
}
#undef JEPA_GPU_CASE2

#define JEPA_GPU_CASE3(id, type)                                                                    \
  case Map3::id:                                                                                    \
    static_assert(type::gpu_map3 == Map3::id, "functor " #type " names another id than " #id);     \
    return kernels::map3(out, a, b, c, functor<type>(f));
inline void map3(Map3 id, const void* f, const View& out, const View& a, const View& b, const View& c) {
  switch (id) { JEPA_GPU_MAP3_FUNCTIONS(JEPA_GPU_CASE3) }
  fail("map3", "unknown elementwise function id ", static_cast<int>(id));
}
#undef JEPA_GPU_CASE3

inline Backend make_backend() {
  Backend b;
  b.device_type = kDeviceType;
  b.name = kBackendName;
  b.runtime_prefix = kRuntimePrefix;
  b.blas_name = kBlasName;
  b.has_blas = kHasBlas;
  b.device_count = [] { return kernels::device_count(); };
  b.unavailable_reason = [] () -> const std::string& { return kernels::unavailable_reason(); };
  b.synchronize = [](int index) { index < 0 ? kernels::synchronize() : kernels::synchronize(index); };
  b.memory_stats = [](int index) { return kernels::memory_stats(index); };
  b.reset_peak_memory = &kernels::reset_peak_memory;
  b.empty_cache = [] { kernels::empty_cache(); };
  b.gemm_impl = [] { return kernels::gemm_impl(); };
  b.set_gemm_impl = [](GemmImpl impl) { kernels::set_gemm_impl(impl); };
  b.allow_tf32 = [] { return kernels::allow_tf32(); };
  b.set_allow_tf32 = [](bool allowed) { kernels::set_allow_tf32(allowed); };
  b.copy_elements = &kernels::copy_elements;
  b.fill = &kernels::fill;
  b.map1 = &registration::map1;
  b.map2 = &registration::map2;
  b.map3 = &registration::map3;
  b.reduce_splits = &kernels::reduce_splits;
  b.reduce_ori = &kernels::reduce_ori;
  b.softmax_forward = &kernels::softmax_forward;
  b.softmax_backward = &kernels::softmax_backward;
  b.layernorm_forward = &kernels::layernorm_forward;
  b.layernorm_param_chunks = &kernels::layernorm_param_chunks;
  b.layernorm_backward = &kernels::layernorm_backward;
  b.attention_supported = &kernels::attention_supported;
  b.attention_forward = &kernels::attention_forward;
  b.attention_backward = &kernels::attention_backward;
  b.gemm = &kernels::gemm;
  b.gather = &kernels::gather;
  b.scatter_add = &kernels::scatter_add;
  b.adamw = &kernels::adamw;
  b.ema = &kernels::ema;
  return b;
}

}  // namespace jepa::gpu::kernels::registration

// Two translation units including this header collide here at link time.
extern const int jepa_gpu_implementation_defined_once;
const int jepa_gpu_implementation_defined_once = 1;

const jepa::gpu::Backend* jepa_gpu_backend() {
  static const jepa::gpu::Backend backend = jepa::gpu::kernels::registration::make_backend();
  return &backend;
}

namespace jepa::gpu::kernels::registration {
// Not inline: one definition, in this translation unit.
[[maybe_unused]] const bool hooks_registered = [] {
  device_hooks(kDeviceType) = kernels::detail::device_hooks_for_gpu();
  return true;
}();
}  // namespace jepa::gpu::kernels::registration
