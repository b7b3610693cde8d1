// GPU backend figures (one source: bench_cuda with nvcc, bench_hip with hipcc), one JSON line
// each: GEMM throughput (vendor BLAS f32, TF32 and bf16 where compiled in; the own tiled kernel
// f32 and bf16), fused attention against the matmul + softmax composition (forward and forward +
// backward), layer_norm and elementwise bandwidth, and a tiny I-JEPA training step (the
// Fashion-MNIST configuration: ViT 192/6/3 on 28x28 images with 4x4 patches, predictor 96/3,
// batch 64).
// Every kernel is checked against a reference before it is timed; times are medians of repeats
// after a warm-up, with the device synchronised around each repeat.
// Usage: bench_cuda|bench_hip [--quick]   (--quick: fewer repeats, smaller problems)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <jepa/io/json.hpp>
#include <jepa/jepa.hpp>
#include <jepa/models/ijepa.hpp>
#include <jepa/optim/adamw.hpp>
#include <jepa/optim/ema.hpp>

using namespace jepa;

namespace {

const Device kGpu{gpu::kDeviceType, 0};
int repeats = 20;

void print_line(const json::ObjectWriter& figures) { std::printf("%s\n", figures.str().c_str()); }

// Median wall time of f in milliseconds, the device idle before and after each run.
double median_ms(const std::function<void()>& f) {
  f();
  gpu::synchronize();
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    gpu::synchronize();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

Tensor random(const Shape& shape, uint64_t seed, DType dtype = DType::f32) {
  Generator g(seed);
  return uniform(shape, -1, 1, g, DType::f32, kGpu).to(dtype);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

// Fails the run when a kernel disagrees with its reference beyond tol.
void validate(const char* what, double error, double tol) {
  if (error > tol) {
    std::fprintf(stderr, "%s: error %g above %g, not timing it\n", what, error, tol);
    std::exit(1);
  }
}

struct Plan {  // the fields gpu::gemm reads, for a single row-major product
  bool trans_a = false, trans_b = false;
  int64_t M, N, K, lda, ldb, ldc;
  std::vector<int64_t> a_offsets{0}, b_offsets{0}, c_offsets{0};
};

void bench_gemm(int64_t M, int64_t N, int64_t K) {
  const Tensor a32 = random({M, K}, 1), b32 = random({K, N}, 2);
  const Plan plan{false, false, M, N, K, K, N, N};
  struct Mode {
    const char* name;
    gpu::GemmImpl impl;
    DType dtype;
    bool tf32;
  };
  std::vector<Mode> modes = {{"own f32", gpu::GemmImpl::own, DType::f32, false},
                             {"own bf16", gpu::GemmImpl::own, DType::bf16, false}};
  if (gpu::kHasBlas) {
    modes.insert(modes.begin(), {{"f32", gpu::GemmImpl::blas, DType::f32, false},
                                 {"tf32", gpu::GemmImpl::blas, DType::f32, true},
                                 {"bf16", gpu::GemmImpl::blas, DType::bf16, false}});
  }
  for (const Mode& mode : modes) {
    gpu::set_allow_tf32(mode.tf32);
    const Tensor a = a32.to(mode.dtype), b = b32.to(mode.dtype);
    const Tensor c = Tensor::empty({M, N}, a.dtype(), kGpu);
    gpu::gemm(mode.impl, plan, a, b, c, 1.0, 0.0);
    const Tensor reference = matmul(a.to(DType::f64), b.to(DType::f64));
    validate(mode.name, max_abs_diff(c, reference) / std::sqrt(static_cast<double>(K)),
             mode.dtype == DType::bf16 ? 2e-2 : 2e-3);
    const double ms = median_ms([&] { gpu::gemm(mode.impl, plan, a, b, c, 1.0, 0.0); });
    print_line(json::ObjectWriter()
                   .add("bench", "gemm")
                   .add("mode", mode.name)
                   .add("M", M)
                   .add("N", N)
                   .add("K", K)
                   .add("ms", ms)
                   .add("tflops", 2.0 * M * N * K / ms * 1e-9));
  }
  gpu::set_allow_tf32(false);
}

Tensor composed_attention(const Tensor& q, const Tensor& k, const Tensor& v) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  return matmul(softmax(mul(matmul(q, k.transpose(-2, -1)), scale), -1), v);
}

void bench_attention(int64_t B, int64_t H, int64_t N, int64_t D, DType dtype) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  const Tensor q = random({B, H, N, D}, 3, dtype), k = random({B, H, N, D}, 4, dtype), v = random({B, H, N, D}, 5, dtype);
  const Tensor dout = random({B, H, N, D}, 6, dtype);
  const Tensor out = Tensor::empty(q.shape(), dtype, q.device()), lse = Tensor::empty({B, H, N}, DType::f32, q.device());
  const Tensor dq = Tensor::empty(q.shape(), dtype, q.device()), dk = Tensor::empty(k.shape(), dtype, q.device()),
               dv = Tensor::empty(v.shape(), dtype, q.device());
  gpu::attention_forward(q, k, v, out, lse, scale);
  const Tensor reference = composed_attention(q.to(DType::f32), k.to(DType::f32), v.to(DType::f32));
  validate("attention", max_abs_diff(out, reference), dtype == DType::f32 ? 1e-4 : 2e-2);
  const double fused_fwd = median_ms([&] { gpu::attention_forward(q, k, v, out, lse, scale); });
  const double fused_both = median_ms([&] {
    gpu::attention_forward(q, k, v, out, lse, scale);
    gpu::attention_backward(dout, q, k, v, out, lse, dq, dk, dv, scale);
  });
  double composed_fwd = 0, composed_both = 0;
  if (dtype == DType::f32) {  // the composition runs in f32 only
    composed_fwd = median_ms([&] { composed_attention(q, k, v); });
    const Tensor qg = q.detach().requires_grad_(), kg = k.detach().requires_grad_(), vg = v.detach().requires_grad_();
    composed_both = median_ms([&] { composed_attention(qg, kg, vg).backward(dout); });
  }
  print_line(json::ObjectWriter()
                 .add("bench", "attention")
                 .add("dtype", dtype_name(dtype))
                 .add("B", B)
                 .add("H", H)
                 .add("N", N)
                 .add("D", D)
                 .add("fused_fwd_ms", fused_fwd)
                 .add("fused_fwd_bwd_ms", fused_both)
                 .add("composed_fwd_ms", composed_fwd)
                 .add("composed_fwd_bwd_ms", composed_both));
}

void bench_bandwidth(int64_t rows, int64_t D) {
  const Tensor x = random({rows, D}, 7), w = random({D}, 8), b = random({D}, 9);
  const Tensor y = layer_norm(x, {D}, w, b);
  validate("layer_norm", max_abs_diff(y, layer_norm(x.to(Device::cpu()), {D}, w.to(Device::cpu()), b.to(Device::cpu()))),
           1e-4);
  const double bytes = 2.0 * rows * D * 4;  // read x, write y
  const double ln = median_ms([&] { layer_norm(x, {D}, w, b); });
  const double add_ms = median_ms([&] { add(x, x); });
  print_line(json::ObjectWriter()
                 .add("bench", "bandwidth")
                 .add("rows", rows)
                 .add("D", D)
                 .add("layer_norm_gbps", bytes / ln * 1e-6)
                 .add("add_gbps", 1.5 * bytes / add_ms * 1e-6));
}

void bench_ijepa_step(int64_t batch) {
  Generator gen(11);
  models::IJEPAConfig cfg;
  cfg.encoder = models::vit_config("vit_tiny", 28, 4, 1);
  cfg.encoder.depth = 6;
  cfg.predictor = models::predictor_for(cfg.encoder, 96, 3);
  models::IJEPA model(cfg, gen);
  model.encoder->to(kGpu);
  model.predictor->to(kGpu);
  model.target_encoder->to(kGpu);
  auto encoder = std::make_shared<optim::FlatParameters>(model.encoder->named_parameters());
  auto predictor = std::make_shared<optim::FlatParameters>(model.predictor->named_parameters());
  optim::FlatParameters target(model.target_encoder->named_parameters(), false);
  optim::AdamW adamw({encoder, predictor});
  const int64_t tokens = cfg.encoder.num_patches();  // 49
  std::vector<int64_t> ctx, t1, t2;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < 30; ++i) ctx.push_back((b + i) % tokens);
    for (int64_t i = 0; i < 8; ++i) {
      t1.push_back((b + 30 + i) % tokens);
      t2.push_back((b + 40 + i) % tokens);
    }
  }
  const Tensor images = random({batch, 1, 28, 28}, 12);
  const Tensor mc = from_vector(ctx, {batch, 30}).to(kGpu), m1 = from_vector(t1, {batch, 8}).to(kGpu),
               m2 = from_vector(t2, {batch, 8}).to(kGpu);
  auto step = [&] {
    adamw.zero_grad();
    Tensor loss = model.loss(images, {mc}, {m1, m2});
    loss.backward();
    adamw.step(1e-3, 0.04);
    optim::ema_update(target, *encoder, 0.996);
  };
  const double ms = median_ms(step);
  print_line(json::ObjectWriter()
                 .add("bench", "ijepa_step")
                 .add("batch", batch)
                 .add("ms", ms)
                 .add("images_per_s", batch / ms * 1e3));
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  if (!gpu::available()) {
    print_line(json::ObjectWriter().add("bench", gpu::kBackendName).add("skipped", gpu::unavailable_reason()));
    return 0;
  }
  if (quick) repeats = 5;
  bench_gemm(quick ? 1024 : 4096, quick ? 1024 : 4096, quick ? 1024 : 4096);
  bench_gemm(64 * 49, 576, 192);  // the tiny I-JEPA's qkv projection
  for (DType dt : {DType::f32, DType::bf16}) {
    bench_attention(64, 3, 49, 64, dt);
    bench_attention(quick ? 4 : 32, 12, 197, 64, dt);
    bench_attention(quick ? 2 : 8, 16, 1024, 128, dt);
  }
  bench_bandwidth(64 * 196, 192);
  bench_bandwidth(quick ? 4096 : 32768, 768);
  bench_ijepa_step(64);
  return 0;
}
