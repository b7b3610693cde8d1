// The CPU emulation of a GPU (backends/jepa/backends/gpu/emulator.hpp) checked on kernels of its
// own: correct ones give the right answer at the build's warp width, and deliberately broken ones
// (a missing barrier, a barrier not every thread reaches, a lane missing from an exchange, a
// reduction that assumes 32-lane warps) fail. Built only into the emulator test programs, where it
// shares the runtime (streams, contexts) with their emulated implementation file; the
// out-of-bounds shared-memory case is run by CTest alone, expecting AddressSanitizer's report.
#include <doctest/doctest.h>

#include <numeric>
#include <vector>

#include <jepa/backends/gpu/runtime.cuh>
#include <jepa/jepa.hpp>

using namespace jepa;

namespace {

constexpr int kThreads = 128;

// Sums `in` (kThreads values) into out[0] through shared memory, with or without the barrier
// between the writes and the first reads.
template <bool Barrier>
__global__ void shared_sum_kernel(const float* in, float* out) {
  __shared__ float partial[kThreads];
  partial[threadIdx.x] = in[threadIdx.x];
  if constexpr (Barrier) __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[0] = partial[0];
}

// Thread 0 returns early while the others wait at a barrier.
__global__ void early_return_kernel(float* out) {
  if (threadIdx.x == 0) return;
  __syncthreads();
  out[threadIdx.x] = 1;
}

// Sums over each warp with shfl_xor, every lane getting the warp's total.
template <int Width>
__global__ void warp_sum_kernel(const float* in, float* out) {
  float v = in[threadIdx.x];
  for (int mask = Width / 2; mask > 0; mask /= 2) v += gpu::kernels::shfl_xor(v, mask, Width);
  out[threadIdx.x] = v;
}

// Lanes above 15 skip the exchange that lanes 0-15 take part in.
__global__ void partial_exchange_kernel(float* out) {
  float v = 1;
  if (threadIdx.x % 32 < 16) v = gpu::kernels::shfl_xor(v, 1, 2);
  out[threadIdx.x] = v;
}

// A block sum that stores one partial per 32 lanes but reduces them with the target's warp
// width: right where warps have 32 lanes, wrong at 64 (the bug warp-size-agnostic code avoids).
__global__ void hardcoded_warp32_sum_kernel(const float* in, float* out) {
  __shared__ float partial[kThreads / 32];
  float v = in[threadIdx.x];
  for (int mask = gpu::kernels::kWarpSize / 2; mask > 0; mask /= 2) v += gpu::kernels::shfl_xor(v, mask, gpu::kernels::kWarpSize);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    float total = 0;
    for (int w = 0; w < kThreads / 32; ++w) total += partial[w];
    out[0] = total;
  }
}

// Writes one float past the launch's dynamic shared memory.
__global__ void shared_overflow_kernel(float* out, int floats) {
  JEPA_DYNAMIC_SHARED(float, shared);
  shared[threadIdx.x] = 1;
  __syncthreads();
  if (threadIdx.x == 0) out[0] = shared[floats];
}

Tensor iota_on_gpu(int n) {
  std::vector<float> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 1.0f);
  return from_vector(v, {n}).to(Device{gpu::kernels::kDeviceType, 0});
}

gpuStream_t stream() { return gpu::kernels::activate(0).stream; }

float* floats(const Tensor& t) { return static_cast<float*>(t.raw_data()); }

}  // namespace

TEST_CASE("gpu emulator: a block reduction through shared memory is right with its barriers, wrong without") {
  const Tensor in = iota_on_gpu(kThreads);
  const Tensor out = zeros({1}, DType::f32, in.device());
  gpu::kernels::launch<shared_sum_kernel<true>>(1, kThreads, 0, stream(), floats(in), floats(out));
  CHECK(out.item() == kThreads * (kThreads + 1) / 2);
  gpu::kernels::launch<shared_sum_kernel<false>>(1, kThreads, 0, stream(), floats(in), floats(out));
  CHECK(out.item() != kThreads * (kThreads + 1) / 2);  // a thread read its neighbour's slot before it was written
}

TEST_CASE("gpu emulator: a __syncthreads that not every thread reaches is an error naming the kernel") {
  const Tensor out = zeros({kThreads}, DType::f32, Device{gpu::kernels::kDeviceType, 0});
  gpu::kernels::launch<early_return_kernel>(2, kThreads, 0, stream(), floats(out));
  CHECK_THROWS_WITH(gpu::synchronize(0),
                    doctest::Contains("early_return_kernel, block (0, 0, 0): 127 of 128 threads wait at __syncthreads "
                                      "but thread 0 has returned"));
  gpu::synchronize(0);  // the failed launch's work was dropped; the stream works again
}

TEST_CASE("gpu emulator: warp exchanges at every width up to the warp, and lanes missing from one") {
  const Tensor in = iota_on_gpu(kThreads);
  const Tensor out = zeros({kThreads}, DType::f32, in.device());
  auto check_groups = [&](int width) {
    const std::vector<double> got = out.to_vector<double>();
    for (int t = 0; t < kThreads; ++t) {
      const int first = t / width * width + 1;
      CHECK(got[static_cast<size_t>(t)] == width * first + width * (width - 1) / 2);
    }
  };
  gpu::kernels::launch<warp_sum_kernel<8>>(1, kThreads, 0, stream(), floats(in), floats(out));
  check_groups(8);
  gpu::kernels::launch<warp_sum_kernel<32>>(1, kThreads, 0, stream(), floats(in), floats(out));
  check_groups(32);
  gpu::kernels::launch<warp_sum_kernel<gpu::kernels::kWarpSize>>(1, kThreads, 0, stream(), floats(in), floats(out));
  check_groups(gpu::kernels::kWarpSize);
  gpu::kernels::launch<partial_exchange_kernel>(1, kThreads, 0, stream(), floats(out));
  CHECK_THROWS_WITH(gpu::synchronize(0), doctest::Contains("every lane of the group must take part"));
}

TEST_CASE("gpu emulator: a reduction that assumes 32-lane warps fails at warp width 64") {
  const Tensor in = iota_on_gpu(kThreads);
  const Tensor out = zeros({1}, DType::f32, in.device());
  gpu::kernels::launch<hardcoded_warp32_sum_kernel>(1, kThreads, 0, stream(), floats(in), floats(out));
  const double total = kThreads * (kThreads + 1) / 2;
  if (gpu::kernels::kWarpSize == 32) CHECK(out.item() == total);
  else CHECK(out.item() == 2 * total);  // each 64-lane total stored twice
}

TEST_CASE("gpu emulator: launches are queued until the host waits, and bad configurations are refused") {
  const Tensor in = iota_on_gpu(kThreads);
  Tensor out = zeros({1}, DType::f32, in.device());
  gpu::synchronize(0);
  gpu::kernels::launch<shared_sum_kernel<true>>(1, kThreads, 0, stream(), floats(in), floats(out));
  CHECK(floats(out)[0] == 0);  // device memory is host memory here, but nothing ran yet
  gpu::synchronize(0);
  CHECK(floats(out)[0] == kThreads * (kThreads + 1) / 2);
  gpu::kernels::launch<shared_sum_kernel<true>>(1, 2048, 0, stream(), floats(in), floats(out));
  CHECK_THROWS_WITH(JEPA_GPU_CHECK_LAUNCH("too_many_threads"), doctest::Contains("emuErrorInvalidConfiguration"));
  gpu::kernels::launch<shared_overflow_kernel>(1, 32, size_t{64} << 10, stream(), floats(out), 0);  // 64 KiB, not opted in
  CHECK_THROWS_WITH(JEPA_GPU_CHECK_LAUNCH("shared_not_opted_in"), doctest::Contains("emuErrorInvalidValue"));
}

// Run by CTest on its own (tests/CMakeLists.txt), which expects AddressSanitizer to stop it.
TEST_CASE("gpu emulator: reading past dynamic shared memory is caught by AddressSanitizer" * doctest::skip()) {
  const Tensor out = zeros({1}, DType::f32, Device{gpu::kernels::kDeviceType, 0});
  constexpr int kFloats = 32;
  gpu::kernels::launch<shared_overflow_kernel>(1, kFloats, kFloats * sizeof(float), stream(), floats(out), kFloats);
  gpu::synchronize(0);
}
