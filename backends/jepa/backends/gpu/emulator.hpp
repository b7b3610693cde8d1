// A GPU emulated on the CPU: the third vendor of gpu/vendor.hpp, so the backend's kernel sources,
// compiled by g++, run where there is no GPU (CI) — in the spirit of Triton's interpreter and
// HIP-CPU. It provides the runtime calls under the prefix emu (emuMalloc, emuMemcpyAsync, ...),
// the built-in variables (threadIdx, blockIdx, blockDim, gridDim), __syncthreads, shared memory
// and the warp exchange that vendor.hpp's shfl_xor needs.
// Execution model:
// - A stream is an ordered queue: launches, copies and memsets are queued and run when the host
//   waits (emuStreamSynchronize), so host code that reads a result without waiting reads stale
//   memory here too. Copies from host memory snapshot their source when queued, as the real
//   runtimes stage pageable memory.
// - Blocks run one after another; the threads of a block are fibers on the host thread
//   that drains the stream. A fiber runs until it waits at __syncthreads or a warp exchange, then
//   the next one runs; each phase between barriers runs the fibers in the opposite order of the
//   phase before, so a missing barrier lets a thread read what its neighbour has not yet written,
//   or has already overwritten, and the kernel's result is wrong.
// - __syncthreads releases when every thread of the block waits at it; a thread that returns while
//   others wait, or a warp exchange that not every lane of its group reaches, is an error
//   (jepa::Error naming the kernel and the block), never a hang.
// - Static __shared__ arrays are function statics (one copy, as blocks run one at a time, under
//   AddressSanitizer's bounds checks of globals); dynamic shared memory is a heap block of exactly
//   the launch's size per launch, so an index past it is a heap-buffer-overflow under ASan.
// - The warp width is JEPA_EMULATED_WARP_SIZE (32, an NVIDIA GPU; 64, an AMD CDNA GPU); a lane
//   exchange waits for the aligned group of max(width, 32) lanes, the lanes vendor.hpp promises
//   call it together.
// - One device with properties like an H100's shared memory (48 KiB default, 227 KiB opt-in) and
//   2 multiprocessors, so grid-stride loops take several turns.
#pragma once
#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include <jepa/core/error.hpp>

#if defined(__SANITIZE_ADDRESS__)
#define JEPA_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JEPA_EMU_ASAN 1
#endif
#endif
#if defined(JEPA_EMU_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#ifndef JEPA_EMULATED_WARP_SIZE
#define JEPA_EMULATED_WARP_SIZE 32
#endif
static_assert(JEPA_EMULATED_WARP_SIZE == 32 || JEPA_EMULATED_WARP_SIZE == 64, "JEPA_EMULATED_WARP_SIZE: 32 or 64");

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

namespace jepa::gpu::emu {

inline constexpr int kWarpSize = JEPA_EMULATED_WARP_SIZE;
inline constexpr int kMaxBlockThreads = 1024;
inline constexpr size_t kFiberStackBytes = size_t{256} << 10;
inline constexpr size_t kDeviceMemoryBytes = size_t{16} << 30;  // what the device reports; larger requests fail

// ---- runtime types -------------------------------------------------------------------------------

enum emuError_t { emuSuccess = 0, emuErrorInvalidValue = 1, emuErrorMemoryAllocation = 2, emuErrorLaunchFailure = 4,
                  emuErrorInvalidConfiguration = 9, emuErrorInvalidDevice = 101 };
enum emuMemcpyKind { emuMemcpyHostToDevice = 1, emuMemcpyDeviceToHost = 2, emuMemcpyDeviceToDevice = 3 };
enum emuFuncAttribute { emuFuncAttributeMaxDynamicSharedMemorySize = 8 };
inline constexpr unsigned emuStreamNonBlocking = 1, emuHostAllocMapped = 2;

struct emuDeviceProp {
  char name[256] = "jepa GPU emulator";
  int multiProcessorCount = 2;
  size_t sharedMemPerBlock = size_t{48} << 10;
  size_t sharedMemPerBlockOptin = size_t{227} << 10;
  int warpSize = kWarpSize;
};

struct Stream {
  std::deque<std::function<void()>> queue;
};
using emuStream_t = Stream*;

}  // namespace jepa::gpu::emu

// ---- execution contexts --------------------------------------------------------------------------

// A saved execution context and the switch between two. On x86-64 a switch saves the callee-saved
// registers and the FP control words on the old stack and swaps stack pointers (tens of
// nanoseconds); elsewhere it is ucontext's swapcontext, which also saves the signal mask with a
// system call per switch.
#if defined(__x86_64__)
extern "C" void jepa_emu_switch(void** save_sp, void* load_sp);
// Weak and in its own comdat section: every translation unit that includes this header emits it.
asm(R"(
  .pushsection .text.jepa_emu_switch,"axG",@progbits,jepa_emu_switch,comdat
  .weak jepa_emu_switch
  .type jepa_emu_switch,@function
jepa_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size jepa_emu_switch, .-jepa_emu_switch
  .popsection
)");
#endif

namespace jepa::gpu::emu {

struct Context {
#if defined(__x86_64__)
  void* sp = nullptr;
#else
  ucontext_t uc;
#endif
};

// Prepares `c` to start entry() on the given stack at the next switch to it; entry never returns.
inline void start_context(Context& c, char* stack, size_t size, void (*entry)()) {
#if defined(JEPA_EMU_ASAN)
  // The frames of the stack's last fiber never returned, so their red zones are still poisoned.
  __asan_unpoison_memory_region(stack, size);
#endif
#if defined(__x86_64__)
  // As jepa_emu_switch leaves it: FP control words, six registers, then the "return" address, at
  // a 16-byte boundary so that entry starts with the stack aligned as after a call.
  auto top = reinterpret_cast<uintptr_t>(stack + size) & ~uintptr_t{15};
  auto* slots = reinterpret_cast<uint64_t*>(top - 16 - 56);
  slots[0] = 0x1f80 | (uint64_t{0x037f} << 32);  // default MXCSR; x87 control word
  for (int r = 1; r <= 6; ++r) slots[r] = 0;
  slots[7] = reinterpret_cast<uint64_t>(entry);
  c.sp = slots;
#else
  getcontext(&c.uc);
  c.uc.uc_stack.ss_sp = stack;
  c.uc.uc_stack.ss_size = size;
  c.uc.uc_link = nullptr;
  makecontext(&c.uc, entry, 0);
#endif
}

inline void switch_context(Context& save, Context& load) {
#if defined(__x86_64__)
  jepa_emu_switch(&save.sp, load.sp);
#else
  swapcontext(&save.uc, &load.uc);
#endif
}

// ---- fibers --------------------------------------------------------------------------------------

enum class FiberState { ready, at_barrier, at_exchange, done };

struct Fiber {
  Context context;
  char* stack = nullptr;
  FiberState state = FiberState::ready;
  dim3 thread_idx;
  int linear = 0;      // thread index within the block
  int group_size = 0;  // lanes of the exchange it waits at
};

// One block being run: its fibers, the scheduler's context, and what threads share.
struct Block {
  dim3 block_idx, block_dim, grid_dim;
  void* dynamic_shared = nullptr;
  std::vector<Fiber>* fibers = nullptr;
  int count = 0;
  Fiber* current = nullptr;
  Context scheduler;
  std::vector<uint64_t> exchange;    // one slot per thread for warp exchanges
  const std::function<void()>* body;  // the kernel with its arguments, run by each thread
  std::exception_ptr failure;
#if defined(JEPA_EMU_ASAN)
  const void* host_stack_bottom = nullptr;
  size_t host_stack_size = 0;
#endif
};

inline thread_local Block* running_block = nullptr;

inline Block& block() {
  if (!running_block) fail("gpu emulator", "a device built-in (threadIdx, __syncthreads, ...) used outside a kernel");
  return *running_block;
}

inline std::vector<Fiber>& fiber_pool() {
  static auto* pool = new std::vector<Fiber>();  // stacks live for the program, reused by every launch
  return *pool;
}

// Switches between the scheduler and a fiber, announcing each switch to AddressSanitizer.
inline void switch_to_fiber(Block& b, Fiber& f) {
  b.current = &f;
#if defined(JEPA_EMU_ASAN)
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, f.stack, kFiberStackBytes);
  switch_context(b.scheduler, f.context);
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#else
  switch_context(b.scheduler, f.context);
#endif
  b.current = nullptr;
}

inline void switch_to_scheduler(Block& b, Fiber& f, bool finished) {
#if defined(JEPA_EMU_ASAN)
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(finished ? nullptr : &fake_stack, b.host_stack_bottom, b.host_stack_size);
  switch_context(f.context, b.scheduler);
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#else
  (void)finished;
  switch_context(f.context, b.scheduler);
#endif
}

inline void fiber_main() {
  Block& b = *running_block;
  Fiber& f = *b.current;
#if defined(JEPA_EMU_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, &b.host_stack_bottom, &b.host_stack_size);
#endif
  try {
    (*b.body)();
  } catch (...) {
    if (!b.failure) b.failure = std::current_exception();
  }
  f.state = FiberState::done;
  switch_to_scheduler(b, f, true);
}

// Waits in the calling thread's fiber until the scheduler releases `state`.
inline void wait_as(FiberState state, int group_size = 0) {
  Block& b = block();
  Fiber& f = *b.current;
  f.state = state;
  f.group_size = group_size;
  switch_to_scheduler(b, f, false);
}

inline std::string where(const Block& b, const char* kernel) {
  return ::jepa::detail::concat("kernel ", kernel, ", block (", b.block_idx.x, ", ", b.block_idx.y, ", ",
                                b.block_idx.z, ")");
}

// Releases the exchange groups whose every lane waits; returns whether any was released. A group
// with some lanes waiting and others gone elsewhere can never complete: an error.
inline bool release_exchanges(Block& b, const char* kernel) {
  std::vector<Fiber>& fibers = *b.fibers;
  bool released = false;
  for (int first = 0; first < b.count;) {
    const Fiber& f = fibers[static_cast<size_t>(first)];
    if (f.state != FiberState::at_exchange) { ++first; continue; }
    const int size = f.group_size, start = first / size * size, end = std::min(b.count, start + size);
    int waiting = 0;
    for (int t = start; t < end; ++t) {
      const Fiber& g = fibers[static_cast<size_t>(t)];
      if (g.state == FiberState::at_exchange && g.group_size == size) ++waiting;
      else if (g.state != FiberState::ready)
        fail("gpu emulator", where(b, kernel), ": thread ", first, " exchanges values with its ", size,
             "-lane group, but thread ", t, (g.state == FiberState::done ? " has returned" : " waits at __syncthreads"),
             " (every lane of the group must take part)");
    }
    if (waiting == end - start) {
      for (int t = start; t < end; ++t) fibers[static_cast<size_t>(t)].state = FiberState::ready;
      released = true;
    }
    first = end;
  }
  return released;
}

// Runs one block of `threads` fibers to completion.
inline void run_block(Block& b, const char* kernel) {
  std::vector<Fiber>& fibers = *b.fibers;
  for (int t = 0; t < b.count; ++t) {
    Fiber& f = fibers[static_cast<size_t>(t)];
    if (!f.stack) f.stack = static_cast<char*>(std::malloc(kFiberStackBytes));
    if (!f.stack) fail("gpu emulator", "out of host memory for thread stacks");
    start_context(f.context, f.stack, kFiberStackBytes, fiber_main);
    f.state = FiberState::ready;
    f.linear = t;
    f.thread_idx = dim3(static_cast<unsigned>(t) % b.block_dim.x, static_cast<unsigned>(t) / b.block_dim.x % b.block_dim.y,
                        static_cast<unsigned>(t) / (b.block_dim.x * b.block_dim.y));
  }
  bool forward = true;
  for (;;) {
    for (int i = 0; i < b.count; ++i) {
      Fiber& f = fibers[static_cast<size_t>(forward ? i : b.count - 1 - i)];
      if (f.state == FiberState::ready) switch_to_fiber(b, f);
      if (b.failure) std::rethrow_exception(b.failure);
    }
    if (release_exchanges(b, kernel)) continue;
    int done = 0, at_barrier = 0;
    for (int t = 0; t < b.count; ++t) {
      done += fibers[static_cast<size_t>(t)].state == FiberState::done;
      at_barrier += fibers[static_cast<size_t>(t)].state == FiberState::at_barrier;
    }
    if (done == b.count) return;
    if (at_barrier == b.count) {
      for (int t = 0; t < b.count; ++t) fibers[static_cast<size_t>(t)].state = FiberState::ready;
      forward = !forward;
      continue;
    }
    int gone = 0;
    while (gone < b.count && fibers[static_cast<size_t>(gone)].state != FiberState::done) ++gone;
    if (gone < b.count)
      fail("gpu emulator", where(b, kernel), ": ", at_barrier, " of ", b.count, " threads wait at __syncthreads but ",
           "thread ", gone, " has returned (every thread of a block must reach each __syncthreads)");
    fail("gpu emulator", where(b, kernel), ": ", at_barrier, " of ", b.count, " threads wait at __syncthreads and the ",
         "others at warp exchanges that cannot complete");
  }
}

// ---- what kernels call ---------------------------------------------------------------------------

inline Fiber& this_thread() {
  Block& b = block();
  return *b.current;
}

inline void syncthreads() { wait_as(FiberState::at_barrier); }

// The value of `v` held by lane (lane ^ lane_mask) within aligned groups of `width` lanes; a
// source in a later group returns the caller's own value, as CUDA's __shfl_xor_sync does.
template <class T>
T shfl_xor(T v, int lane_mask, int width) {
  static_assert(sizeof(T) <= sizeof(uint64_t) && std::is_trivially_copyable_v<T>);
  Block& b = block();
  const int me = b.current->linear;
  if (width < 1 || width > kWarpSize || (width & (width - 1)))
    fail("gpu emulator", "shfl_xor width must be a power of two <= ", kWarpSize, ", got ", width);
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  b.exchange[static_cast<size_t>(me)] = bits;
  const int group = std::max(width, std::min(kWarpSize, 32));
  wait_as(FiberState::at_exchange, group);  // every lane has written its value
  const int lane = me % kWarpSize, src_lane = lane ^ lane_mask;
  const int src = src_lane / width > lane / width || src_lane >= kWarpSize ? me : me - lane + src_lane;
  if (src >= b.count)
    fail("gpu emulator", "shfl_xor from lane ", src_lane, " of a warp that has only ", b.count % kWarpSize, " threads");
  T result;
  std::memcpy(&result, &b.exchange[static_cast<size_t>(src)], sizeof(T));
  wait_as(FiberState::at_exchange, group);  // every lane has read before the slots are written again
  return result;
}

// Dynamic shared memory of the running launch (JEPA_DYNAMIC_SHARED in vendor.hpp).
template <class T>
T* dynamic_shared() {
  return static_cast<T*>(block().dynamic_shared);
}

// ---- device, memory and streams ------------------------------------------------------------------

struct DeviceState {
  std::mutex mutex;  // one drain at a time: blocks share function-static shared memory
  std::map<const void*, int> opted_in_shared;  // kernel -> bytes allowed by emuFuncSetAttribute
};

inline DeviceState& device_state() {
  static auto* s = new DeviceState();
  return *s;
}

inline thread_local emuError_t last_error = emuSuccess;

inline emuError_t emuGetLastError() {
  const emuError_t e = last_error;
  last_error = emuSuccess;
  return e;
}

inline const char* emuGetErrorName(emuError_t e) {
  switch (e) {
    case emuSuccess: return "emuSuccess";
    case emuErrorInvalidValue: return "emuErrorInvalidValue";
    case emuErrorMemoryAllocation: return "emuErrorMemoryAllocation";
    case emuErrorLaunchFailure: return "emuErrorLaunchFailure";
    case emuErrorInvalidConfiguration: return "emuErrorInvalidConfiguration";
    case emuErrorInvalidDevice: return "emuErrorInvalidDevice";
  }
  return "emuErrorUnknown";
}

inline const char* emuGetErrorString(emuError_t e) {
  switch (e) {
    case emuSuccess: return "no error";
    case emuErrorInvalidValue: return "invalid argument";
    case emuErrorMemoryAllocation: return "out of memory";
    case emuErrorLaunchFailure: return "unspecified launch failure";
    case emuErrorInvalidConfiguration: return "invalid configuration argument";
    case emuErrorInvalidDevice: return "invalid device ordinal";
  }
  return "unknown error";
}

inline emuError_t emuGetDeviceCount(int* count) {
  *count = 1;
  return emuSuccess;
}

inline emuError_t emuSetDevice(int index) { return index == 0 ? emuSuccess : emuErrorInvalidDevice; }

inline emuError_t emuGetDeviceProperties(emuDeviceProp* props, int index) {
  if (index != 0) return emuErrorInvalidDevice;
  *props = emuDeviceProp{};
  return emuSuccess;
}

inline emuError_t emuMalloc(void** p, size_t n) {
  *p = n <= kDeviceMemoryBytes ? std::malloc(std::max<size_t>(n, 1)) : nullptr;
  return *p ? emuSuccess : emuErrorMemoryAllocation;
}
template <class T>
emuError_t emuMalloc(T** p, size_t n) {
  void* v = nullptr;
  const emuError_t e = emuMalloc(&v, n);
  *p = static_cast<T*>(v);
  return e;
}

inline emuError_t emuFree(void* p) {
  std::free(p);
  return emuSuccess;
}

inline emuError_t emuHostAlloc(void** p, size_t n, unsigned) { return emuMalloc(p, n); }

inline emuError_t emuHostGetDevicePointer(void** device, void* host, unsigned) {
  *device = host;
  return emuSuccess;
}

inline emuError_t emuMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  *free_bytes = *total_bytes = kDeviceMemoryBytes;
  return emuSuccess;
}

inline emuError_t emuStreamCreateWithFlags(emuStream_t* stream, unsigned) {
  *stream = new Stream();
  return emuSuccess;
}

inline emuError_t emuMemcpyAsync(void* dst, const void* src, size_t n, emuMemcpyKind kind, emuStream_t stream) {
  if (n == 0) return emuSuccess;
  if (kind == emuMemcpyHostToDevice) {  // staged now: the host buffer may go away before the copy runs
    auto staged = std::make_shared<std::vector<char>>(static_cast<const char*>(src), static_cast<const char*>(src) + n);
    stream->queue.push_back([dst, staged] { std::memcpy(dst, staged->data(), staged->size()); });
  } else {
    stream->queue.push_back([dst, src, n] { std::memmove(dst, src, n); });
  }
  return emuSuccess;
}

inline emuError_t emuMemsetAsync(void* dst, int value, size_t n, emuStream_t stream) {
  stream->queue.push_back([dst, value, n] { std::memset(dst, value, n); });
  return emuSuccess;
}

// Runs everything queued on the stream; the first failure (a kernel's error) is thrown after the
// queue is emptied of the work that follows it, as a real device drops it.
inline emuError_t emuStreamSynchronize(emuStream_t stream) {
  std::lock_guard<std::mutex> lock(device_state().mutex);
  while (!stream->queue.empty()) {
    std::function<void()> work = std::move(stream->queue.front());
    stream->queue.pop_front();
    try {
      work();
    } catch (...) {
      stream->queue.clear();
      throw;
    }
  }
  return emuSuccess;
}

inline emuError_t emuFuncSetAttribute(const void* kernel, emuFuncAttribute, int value) {
  if (value < 0 || static_cast<size_t>(value) > emuDeviceProp{}.sharedMemPerBlockOptin) return emuErrorInvalidValue;
  std::lock_guard<std::mutex> lock(device_state().mutex);
  device_state().opted_in_shared[kernel] = value;
  return emuSuccess;
}

// The kernel's name as the compiler spells the template argument of launch<Kernel>.
inline std::string kernel_name(const char* pretty_function) {
  const std::string s = pretty_function;
  const size_t at = s.find("Kernel = ");
  if (at == std::string::npos) return s;
  const size_t begin = at + 9, end = s.find_first_of(";]", begin);
  return s.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

template <class Fn> struct KernelParams;
template <class... P> struct KernelParams<void (*)(P...)> {
  using tuple = std::tuple<std::decay_t<P>...>;
};

// Queues Kernel over grid x block threads with the given arguments, converted to the kernel's
// parameter types now (as a launch copies them). Bad configurations set the last error.
template <auto Kernel, class... Args>
void enqueue_launch(dim3 grid, dim3 block_dim, size_t shared_bytes, emuStream_t stream, Args&&... args) {
  using Params = typename KernelParams<decltype(Kernel)>::tuple;
  const uint64_t threads = uint64_t{block_dim.x} * block_dim.y * block_dim.z;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || threads == 0 || threads > kMaxBlockThreads || grid.y > 65535 ||
      grid.z > 65535) {
    last_error = emuErrorInvalidConfiguration;
    return;
  }
  if (shared_bytes > emuDeviceProp{}.sharedMemPerBlock) {
    std::lock_guard<std::mutex> lock(device_state().mutex);
    auto it = device_state().opted_in_shared.find(reinterpret_cast<const void*>(Kernel));
    if (it == device_state().opted_in_shared.end() || static_cast<size_t>(it->second) < shared_bytes) {
      last_error = emuErrorInvalidValue;
      return;
    }
  }
  auto params = std::make_shared<Params>(std::forward<Args>(args)...);
  static const std::string name = kernel_name(__PRETTY_FUNCTION__);
  stream->queue.push_back([grid, block_dim, shared_bytes, params, threads] {
    const char* kernel = name.c_str();
    std::vector<Fiber>& fibers = fiber_pool();
    if (fibers.size() < threads) fibers.resize(threads);
    const std::function<void()> body = [&params] { std::apply(Kernel, *params); };
    Block b;
    b.block_dim = block_dim;
    b.grid_dim = grid;
    b.fibers = &fibers;
    b.count = static_cast<int>(threads);
    b.exchange.assign(threads, 0);
    b.body = &body;
    std::vector<char> shared(shared_bytes);  // exactly the launch's size: ASan bounds it
    b.dynamic_shared = shared_bytes ? shared.data() : nullptr;
    running_block = &b;
    try {
      for (unsigned z = 0; z < grid.z; ++z)
        for (unsigned y = 0; y < grid.y; ++y)
          for (unsigned x = 0; x < grid.x; ++x) {
            b.block_idx = dim3(x, y, z);
            run_block(b, kernel);
          }
    } catch (...) {
      running_block = nullptr;
      throw;
    }
    running_block = nullptr;
  });
}

}  // namespace jepa::gpu::emu

#define threadIdx (::jepa::gpu::emu::this_thread().thread_idx)
#define blockIdx (::jepa::gpu::emu::block().block_idx)
#define blockDim (::jepa::gpu::emu::block().block_dim)
#define gridDim (::jepa::gpu::emu::block().grid_dim)
#define __syncthreads() ::jepa::gpu::emu::syncthreads()
