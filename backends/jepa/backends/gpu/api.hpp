// The GPU backend as every translation unit sees it, whatever compiles it (g++, clang, nvcc or
// hipcc): a table of kernel entry points over raw device pointers, and the functions the ops call,
// which allocate outputs' workspaces and route through the table.
// Invariants:
// - No GPU code here: this header has one meaning in every translation unit of a program, so
//   g++- and nvcc-compiled files share the same inline functions (no ODR hazard).
// - The kernels live in exactly one translation unit of the program, the one that includes
//   gpu/implementation.hpp (compiled by nvcc, hipcc, or g++ for the emulator; CMake:
//   jepa_add_gpu_implementation). It defines jepa_gpu_backend(), declared weak here: in a program
//   without that file its address is null and a GPU tensor fails naming what to link.
// - A View is a pointer, a dtype, a device, sizes and strides: what a kernel needs of a tensor, with
//   no ownership and no autograd. Every buffer a kernel writes, workspaces included, is allocated
//   here, by the caller, never behind the table.
// - Elementwise functors cross the table as an id (Map1, Map2, Map3, from the lists below) plus
//   their bytes; the implementation turns the id back into the functor type. A functor names its
//   id as a static member (gpu_map1, gpu_map2 or gpu_map3); one without runs on the CPU only.
#pragma once
#include <string>
#include <vector>

#include <jepa/backends/cpu/optim.hpp>
#include <jepa/backends/cpu/reduce.hpp>
#include <jepa/backends/gemm_plan.hpp>
#include <jepa/core/tensor.hpp>

// The elementwise functions GPU kernels exist for, by arity: X(id, functor type). Only
// implementation.hpp expands the types (ops/*.hpp define them); here they give the ids.
#define JEPA_GPU_UNARY_OPS(M, X)                                                                     \
  M(X, neg, NegOp) M(X, exp, ExpOp) M(X, log, LogOp) M(X, sqrt, SqrtOp) M(X, rsqrt, RsqrtOp) M(X, abs, AbsOp) \
  M(X, tanh, TanhOp) M(X, relu, ReluOp) M(X, pow, PowOp) M(X, add_scalar, AddScalarOp)                       \
  M(X, mul_scalar, MulScalarOp) M(X, rsub_scalar, RsubScalarOp) M(X, rdiv_scalar, RdivScalarOp)
#define JEPA_GPU_POINTWISE_LOSSES(M, X) M(X, mse, MseFn) M(X, l1, L1Fn) M(X, smooth_l1, SmoothL1Fn)

#define JEPA_GPU_FORWARD_OF(X, id, op) X(id, ::jepa::detail::ForwardFn<::jepa::detail::op>)
#define JEPA_GPU_BACKWARD_OF(X, id, op) X(id##_grad, ::jepa::detail::BackwardFn<::jepa::detail::op>)
#define JEPA_GPU_LOSS_VALUE_OF(X, id, loss) X(id, ::jepa::detail::LossValueFn<::jepa::detail::loss>)
#define JEPA_GPU_LOSS_GRAD_OF(X, id, loss) X(id##_grad, ::jepa::detail::LossGradFn<::jepa::detail::loss>)

#define JEPA_GPU_MAP1_FUNCTIONS(X)                                                                      \
  JEPA_GPU_UNARY_OPS(JEPA_GPU_FORWARD_OF, X) X(scale, ::jepa::detail::ScaleFn) X(gelu, ::jepa::detail::GeluFn)
#define JEPA_GPU_MAP2_FUNCTIONS(X)                                                                          \
  X(add, ::jepa::detail::AddFn) X(sub, ::jepa::detail::SubFn) X(mul, ::jepa::detail::MulFn)                 \
  X(div, ::jepa::detail::DivFn) X(eq, ::jepa::detail::EqFn) X(maximum, ::jepa::detail::MaxFn)               \
  X(minimum, ::jepa::detail::MinFn) X(maximum_share, ::jepa::detail::MaxShareFn)                            \
  X(minimum_share, ::jepa::detail::MinShareFn) X(axpy, ::jepa::detail::AxpyFn)                              \
  X(neg_div, ::jepa::detail::NegDivFn) X(bias_gelu, ::jepa::detail::GeluFn)                                 \
  X(gelu_grad, ::jepa::detail::GeluGradFn) JEPA_GPU_UNARY_OPS(JEPA_GPU_BACKWARD_OF, X)                      \
  JEPA_GPU_POINTWISE_LOSSES(JEPA_GPU_LOSS_VALUE_OF, X)
#define JEPA_GPU_MAP3_FUNCTIONS(X) \
  X(bias_gelu_grad, ::jepa::detail::GeluGradFn) JEPA_GPU_POINTWISE_LOSSES(JEPA_GPU_LOSS_GRAD_OF, X)

namespace jepa::gpu {

#define JEPA_GPU_MAP_ID(id, type) id,
enum class Map1 { JEPA_GPU_MAP1_FUNCTIONS(JEPA_GPU_MAP_ID) };
enum class Map2 { JEPA_GPU_MAP2_FUNCTIONS(JEPA_GPU_MAP_ID) };
enum class Map3 { JEPA_GPU_MAP3_FUNCTIONS(JEPA_GPU_MAP_ID) };
#undef JEPA_GPU_MAP_ID

// An operand as kernels take it; the accessors are the Tensor's, so launchers read like ops.
class View {
 public:
  View() = default;
  View(void* data, DType dtype, Device device, Shape shape, Shape strides)
      : data_(data), dtype_(dtype), device_(device), shape_(std::move(shape)), strides_(std::move(strides)),
        defined_(true) {}
  explicit View(const Tensor& t) {
    if (t.defined()) *this = View(t.raw_data(), t.dtype(), t.device(), t.shape(), t.strides());
  }

  bool defined() const { return defined_; }
  void* raw_data() const { return data_; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int64_t dim() const { return shape_.ndim(); }
  int64_t size(int64_t d) const { return shape_[d < 0 ? d + dim() : d]; }
  int64_t stride(int64_t d) const { return strides_[d < 0 ? d + dim() : d]; }
  int64_t numel() const { return shape_.numel(); }
  bool is_contiguous() const {
    int64_t dense = 1;
    for (int64_t d = dim() - 1; d >= 0; --d) {
      if (shape_[d] != 1 && strides_[d] != dense) return false;
      dense *= shape_[d];
    }
    return true;
  }

 private:
  void* data_ = nullptr;
  DType dtype_ = DType::f32;
  Device device_;
  Shape shape_, strides_;
  bool defined_ = false;
};

enum class GemmImpl { blas, own };

struct MemoryStats {
  size_t in_use_bytes = 0;         // held by live tensors (bin sizes)
  size_t peak_in_use_bytes = 0;    // largest in_use_bytes so far
  size_t cached_bytes = 0;         // freed, kept for reuse
  int64_t device_allocations = 0;  // calls to the runtime allocator so far
};

// The kernel entry points of one GPU implementation. Shapes, layouts and what each writes are
// documented at the functions below that call them.
struct Backend {
  DeviceType device_type;
  const char* name;            // "cuda" or "hip", as in Device names and error messages
  const char* runtime_prefix;  // how its runtime calls begin: "cuda", "hip", or "emu" for the emulator
  const char* blas_name;       // "cuBLAS", "hipBLAS", or "no BLAS"
  bool has_blas;

  int (*device_count)();
  const std::string& (*unavailable_reason)();
  void (*synchronize)(int index);
  MemoryStats (*memory_stats)(int index);
  void (*reset_peak_memory)(int index);
  void (*empty_cache)();
  GemmImpl (*gemm_impl)();
  void (*set_gemm_impl)(GemmImpl impl);
  bool (*allow_tf32)();
  void (*set_allow_tf32)(bool allowed);

  void (*copy_elements)(const View& dst, const View& src, const Shape& src_strides);
  void (*fill)(const View& t, double value);
  void (*map1)(Map1 id, const void* functor, const View& out, const View& x);
  void (*map2)(Map2 id, const void* functor, const View& out, const View& a, const Shape& a_strides, const View& b,
               const Shape& b_strides);
  void (*map3)(Map3 id, const void* functor, const View& out, const View& a, const View& b, const View& c);
  int64_t (*reduce_splits)(int index, int64_t O, int64_t R, int64_t I);
  void (*reduce_ori)(const View& x, const View& out, int64_t O, int64_t R, int64_t I, cpu::ReduceKind kind,
                     double scale, const View& partial);
  void (*softmax_forward)(const View& x, const View& y, int64_t outer, int64_t n, int64_t inner, bool log);
  void (*softmax_backward)(const View& dy, const View& y, const View& dx, int64_t outer, int64_t n, int64_t inner,
                           bool log);
  void (*layernorm_forward)(const View& x, const View& weight, const View& bias, const View& y, const View& mean,
                            const View& rstd, int64_t rows, int64_t D, double eps);
  int64_t (*layernorm_param_chunks)(int index, int64_t rows, int64_t D);
  void (*layernorm_backward)(const View& dy, const View& x, const View& weight, const View& mean, const View& rstd,
                             const View& dx, const View& dweight, const View& dbias, int64_t rows, int64_t D,
                             const View& partials);
  bool (*attention_supported)(const View& q, const View& k, const View& v);
  void (*attention_forward)(const View& q, const View& k, const View& v, const View& out, const View& lse,
                            double scale);
  void (*attention_backward)(const View& dout, const View& q, const View& k, const View& v, const View& out,
                             const View& lse, const View& dq, const View& dk, const View& dv, double scale,
                             const View& delta);
  void (*gemm)(GemmImpl impl, const GemmPlan& plan, const View& a, const View& b, const View& out, double alpha,
               double beta, const View& pointer_table);
  void (*gather)(const View& x, const View& index, const View& out, int64_t dim);
  void (*scatter_add)(const View& index, const View& grad, const View& dx, int64_t dim);
  void (*adamw)(const View& param, const View& grad, const View& m, const View& v,
                const std::vector<cpu::DecaySegment>& segments, const cpu::AdamWStep& step);
  void (*ema)(const View& target, const View& online, double momentum);
};

}  // namespace jepa::gpu

// Defined by the implementation file; weak, so that a program without one links and says so.
__attribute__((weak)) const jepa::gpu::Backend* jepa_gpu_backend();

namespace jepa::gpu {

// The implementation linked into this program, or null.
inline const Backend* linked() {
  if (&jepa_gpu_backend == nullptr) return nullptr;
  static const Backend* backend = jepa_gpu_backend();
  return backend;
}

// The implementation for tensors on `device`, which must be linked.
inline const Backend& backend_for(Device device, const char* op = "gpu") {
  const Backend* b = linked();
  JEPA_CHECK(b != nullptr, op, "tensor is on ", device, " but this program has no GPU implementation: link the "
             "translation unit that includes <jepa/backends/gpu/implementation.hpp> (CMake: "
             "jepa_add_gpu_implementation(target)), built with the cuda, hip or emu preset");
  JEPA_CHECK(b->device_type == device.type, op, "tensor is on ", device, " but this program's GPU implementation is ",
             b->name);
  return *b;
}

// The linked implementation, for programs that ask about the GPU rather than a tensor.
inline const Backend& backend() {
  const Backend* b = linked();
  JEPA_CHECK(b != nullptr, "gpu", "this program has no GPU implementation linked (see gpu/api.hpp)");
  return *b;
}

inline DeviceType device_type() { return backend().device_type; }
inline int device_count() { return linked() ? linked()->device_count() : 0; }
inline bool available() { return device_count() > 0; }
inline std::string unavailable_reason() {
  return linked() ? linked()->unavailable_reason() : std::string("no GPU implementation linked");
}
// Waits for the work queued on device `index`, or on every device used so far (-1).
inline void synchronize(int index = -1) { backend().synchronize(index); }
inline MemoryStats memory_stats(int index = 0) { return backend().memory_stats(index); }
// Makes the peak of device `index` its current use, so that the next peak measures what runs next.
inline void reset_peak_memory(int index = 0) { backend().reset_peak_memory(index); }
inline void empty_cache() { backend().empty_cache(); }
// GEMMs run on the vendor BLAS where there is one, or on the own tiled kernel (JEPA_GPU_GEMM=own).
inline GemmImpl gemm_impl() { return backend().gemm_impl(); }
inline void set_gemm_impl(GemmImpl impl) { backend().set_gemm_impl(impl); }
// Lets f32 GEMMs on the vendor BLAS use TF32 tensor cores (10-bit mantissa products, f32 sums).
inline bool allow_tf32() { return backend().allow_tf32(); }
inline void set_allow_tf32(bool allowed) { backend().set_allow_tf32(allowed); }

// ---- what the ops call -------------------------------------------------------------------------

// dst[i] = convert(src[i]) over dst's shape; src_strides read src broadcast to it (any dtypes).
inline void copy_elements(const Tensor& dst, const Tensor& src, const Shape& src_strides) {
  backend_for(dst.device(), "copy").copy_elements(View(dst), View(src), src_strides);
}

inline void fill(const Tensor& t, double value) { backend_for(t.device(), "fill").fill(View(t), value); }

// Thrown for an elementwise functor with no GPU id (one defined outside the library).
[[noreturn]] inline void no_gpu_kernel(const Device& device, const char* what) {
  fail(what, "this elementwise function has no GPU kernel (it names no gpu_", what,
       " id), so it runs on CPU tensors only; got a tensor on ", device);
}

// out[i] = f(x[i]); x has out's shape. One dtype (f32, f64 or bf16), computed in f32 for bf16.
template <class F>
void map1(const Tensor& out, const Tensor& x, const F& f) {
  if constexpr (requires { F::gpu_map1; })
    backend_for(out.device(), "map1").map1(F::gpu_map1, &f, View(out), View(x));
  else
    no_gpu_kernel(out.device(), "map1");
}

// out[i] = f(a[i], b[i]); a_strides and b_strides read a and b broadcast to out's shape.
template <class F>
void map2(const Tensor& out, const Tensor& a, const Shape& a_strides, const Tensor& b, const Shape& b_strides,
          const F& f) {
  if constexpr (requires { F::gpu_map2; })
    backend_for(out.device(), "map2").map2(F::gpu_map2, &f, View(out), View(a), a_strides, View(b), b_strides);
  else
    no_gpu_kernel(out.device(), "map2");
}

// out[i] = f(a[i], b[i], c[i]); a, b and c broadcast to out's shape.
template <class F>
void map3(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor& c, const F& f) {
  if constexpr (requires { F::gpu_map3; })
    backend_for(out.device(), "map3").map3(F::gpu_map3, &f, View(out), View(a), View(b), View(c));
  else
    no_gpu_kernel(out.device(), "map3");
}

// out[o, i] = reduce over r of x[o, r, i], times scale; x dense (O, R, I) with R >= 1, out (O, I).
// Long reductions split R across blocks into f64 partial sums, which live here.
inline void reduce_ori(const Tensor& x, const Tensor& out, int64_t O, int64_t R, int64_t I, cpu::ReduceKind kind,
                       double scale) {
  const Backend& b = backend_for(x.device(), "reduce");
  const int64_t splits = b.reduce_splits(x.device().index, O, R, I);
  const Tensor partial = splits > 1 ? Tensor::empty({splits, O, I}, DType::f64, x.device()) : Tensor();  // (S, O, I)
  b.reduce_ori(View(x), View(out), O, R, I, kind, scale, View(partial));
}

// y = softmax(x) (or log_softmax) along n; x and y dense (outer, n, inner).
inline void softmax_forward(const Tensor& x, const Tensor& y, int64_t outer, int64_t n, int64_t inner, bool log) {
  backend_for(x.device(), "softmax").softmax_forward(View(x), View(y), outer, n, inner, log);
}

// dx from dy and the forward output y, all dense (outer, n, inner).
inline void softmax_backward(const Tensor& dy, const Tensor& y, const Tensor& dx, int64_t outer, int64_t n,
                             int64_t inner, bool log) {
  backend_for(y.device(), "softmax").softmax_backward(View(dy), View(y), View(dx), outer, n, inner, log);
}

// Rows of x (rows, D) normalized into y, with each row's mean and rstd (rows) saved; weight and
// bias (D) or undefined.
inline void layernorm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y,
                              const Tensor& mean, const Tensor& rstd, int64_t rows, int64_t D, double eps) {
  backend_for(x.device(), "layer_norm")
      .layernorm_forward(View(x), View(weight), View(bias), View(y), View(mean), View(rstd), rows, D, eps);
}

// dx (rows, D), dweight and dbias (D), each written when defined. The parameter gradients sum
// per chunk of rows into f64 partials (2, chunks, D) first, which live here.
inline void layernorm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, const Tensor& mean,
                               const Tensor& rstd, const Tensor& dx, const Tensor& dweight, const Tensor& dbias,
                               int64_t rows, int64_t D) {
  const Backend& b = backend_for(x.device(), "layer_norm");
  Tensor partials;
  if ((dweight.defined() || dbias.defined()) && D > 0)
    partials = Tensor::empty({2, b.layernorm_param_chunks(x.device().index, rows, D), D}, DType::f64, x.device());
  b.layernorm_backward(View(dy), View(x), View(weight), View(mean), View(rstd), View(dx), View(dweight), View(dbias),
                       rows, D, View(partials));
}

// Whether the fused kernels take these operands: 4-D (B, H, N, D) q and (B, H, M, D) k, v on the
// GPU, one dtype (f32 or bf16), D in {32, 64, 128}, head dim dense. Other cases compose matmul
// and softmax.
inline bool attention_supported(const Tensor& q, const Tensor& k, const Tensor& v) {
  return backend_for(q.device(), "scaled_dot_product_attention").attention_supported(View(q), View(k), View(v));
}

// out = softmax(scale * q k^T) v and lse, each row's log-sum-exp of scores (kept for the
// backward). Operands must satisfy attention_supported; out (B, H, N, D) and lse (B, H, N) f32
// dense, written.
inline void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse,
                              double scale) {
  backend_for(q.device(), "scaled_dot_product_attention")
      .attention_forward(View(q), View(k), View(v), View(out), View(lse), scale);
}

// dq, dk, dv (dense, shaped like q, k, v; written) from dout (dense) and the forward's out and
// lse; each row's dot(dout, out) is kept in an f32 workspace (B, H, N) allocated here.
inline void attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                               const Tensor& out, const Tensor& lse, const Tensor& dq, const Tensor& dk,
                               const Tensor& dv, double scale) {
  const Tensor delta = Tensor::empty({q.size(0), q.size(1), q.size(2)}, DType::f32, q.device());  // (B, H, N)
  backend_for(q.device(), "scaled_dot_product_attention")
      .attention_backward(View(dout), View(q), View(k), View(v), View(out), View(lse), View(dq), View(dk), View(dv),
                          scale, View(delta));
}

namespace detail {

// Whether offsets are evenly spaced (a dense batch, or a broadcast operand at stride 0), and
// their spacing.
inline bool even_stride(const std::vector<int64_t>& offsets, int64_t& stride) {
  stride = offsets.size() > 1 ? offsets[1] - offsets[0] : 0;
  for (size_t i = 1; i < offsets.size(); ++i)
    if (offsets[i] - offsets[i - 1] != stride) return false;
  return true;
}

}  // namespace detail

// out[i] = alpha * a[i] @ b[i] + beta * out[i] over the plan's batch on `impl`. A batch whose
// matrices are not evenly spaced reads them through a device table of 3 x count pointers,
// allocated here.
inline void gemm(GemmImpl impl, const GemmPlan& plan, const Tensor& a, const Tensor& b, const Tensor& out,
                 double alpha, double beta) {
  const Backend& be = backend_for(out.device(), "matmul");
  int64_t stride = 0;
  const bool table = !(detail::even_stride(plan.a_offsets, stride) && detail::even_stride(plan.b_offsets, stride) &&
                       detail::even_stride(plan.c_offsets, stride));
  const int64_t count = static_cast<int64_t>(plan.c_offsets.size());
  const Tensor pointers = table ? Tensor::empty({3 * count}, DType::i64, out.device()) : Tensor();
  be.gemm(impl, plan, View(a), View(b), View(out), alpha, beta, View(pointers));
}

// What ops/matmul.hpp calls: out[i] = a[i] @ b[i] + beta * out[i] on the selected implementation.
inline void gemm(const GemmPlan& plan, const Tensor& a, const Tensor& b, const Tensor& out, double beta) {
  gemm(backend_for(out.device(), "matmul").gemm_impl(), plan, a, b, out, 1.0, beta);
}

// out[p] = x[p with coordinate dim replaced by index[p]]; out has index's shape (any dtype).
inline void gather(const Tensor& x, const Tensor& index, const Tensor& out, int64_t dim) {
  backend_for(x.device(), "gather").gather(View(x), View(index), View(out), dim);
}

// dx[p with coordinate dim replaced by index[p]] += grad[p]; dx zeroed by the caller.
inline void scatter_add(const Tensor& index, const Tensor& grad, const Tensor& dx, int64_t dim) {
  backend_for(dx.device(), "scatter_add").scatter_add(View(index), View(grad), View(dx), dim);
}

// One AdamW step over flat buffers param, grad, m, v (same shape and dtype).
inline void adamw(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                  const std::vector<cpu::DecaySegment>& segments, const cpu::AdamWStep& step) {
  backend_for(param.device(), "AdamW").adamw(View(param), View(grad), View(m), View(v), segments, step);
}

// target = momentum * target + (1 - momentum) * online over equal-shaped buffers.
inline void ema(const Tensor& target, const Tensor& online, double momentum) {
  backend_for(target.device(), "ema").ema(View(target), View(online), momentum);
}

}  // namespace jepa::gpu
