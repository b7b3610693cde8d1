// GPU backend figures (one source, linked with the CUDA or the HIP implementation file: bench_cuda
// or bench_hip), one JSON line
// each: GEMM throughput (vendor BLAS f32, TF32 and bf16 where compiled in; the own tiled kernel
// f32 and bf16), fused attention against the matmul + softmax composition (forward and forward +
// backward), layer_norm and elementwise bandwidth, and I-JEPA training steps (images/s and peak
// memory) of the quick-start model, ViT-S/16 and ViT-B/16 at 224x224, batch 64.
// Every kernel is checked against a reference before it is timed; times are medians of repeats
// after a warm-up, with the device synchronised around each repeat.
// Usage: bench_cuda|bench_hip [--quick] [--dump-dir DIR]
//   --quick     every path once at tiny sizes (the emulated GPU's plumbing check)
//   --dump-dir  write each training step's work to DIR/<config>.safetensors, for PyTorch to time
//               the same step (bench/ref/train_step.py; scripts/gpu-check.sh runs both)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <jepa/io/json.hpp>
#include <jepa/io/safetensors.hpp>
#include <jepa/jepa.hpp>
#include <jepa/models/ijepa.hpp>
#include <jepa/models/multiblock_mask.hpp>
#include <jepa/optim/adamw.hpp>
#include <jepa/optim/ema.hpp>

using namespace jepa;

namespace {

const Device kGpu{gpu::device_type(), 0};
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

void bench_gemm(int64_t M, int64_t N, int64_t K) {
  const Tensor a32 = random({M, K}, 1), b32 = random({K, N}, 2);
  const GemmPlan plan{false, false, M, N, K, K, N, N, {0}, {0}, {0}};  // one row-major product
  struct Mode {
    const char* name;
    gpu::GemmImpl impl;
    DType dtype;
    bool tf32;
  };
  std::vector<Mode> modes = {{"own f32", gpu::GemmImpl::own, DType::f32, false},
                             {"own bf16", gpu::GemmImpl::own, DType::bf16, false}};
  if (gpu::backend().has_blas) {
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

// One I-JEPA training step as bench_train_step and bench/ref/train_step.py take it: official
// multi-block masks, AdamW at lr 1e-3 and weight decay 0.04, EMA 0.996.
struct StepConfig {
  const char* name;
  const char* vit;
  int64_t img, patch, channels, depth;  // depth 0: the size's own
  int64_t pred_dim, pred_depth, batch, steps;
  int64_t min_keep = 10;  // the official masks'; a grid as small as 8 x 8 needs fewer
};

// Times the step; with dump_dir, writes its work (images, masks, settings) to
// dump_dir/<name>.safetensors for train_step.py.
void bench_ijepa_step(const StepConfig& c, const std::string& dump_dir) {
  Generator gen(11);
  models::IJEPAConfig cfg;
  cfg.encoder = models::vit_config(c.vit, c.img, c.patch, c.channels);
  if (c.depth > 0) cfg.encoder.depth = c.depth;
  cfg.predictor = models::predictor_for(cfg.encoder, c.pred_dim, c.pred_depth);
  models::IJEPA model(cfg, gen);
  model.to(kGpu);
  auto encoder = std::make_shared<optim::FlatParameters>(model.encoder->named_parameters());
  auto predictor = std::make_shared<optim::FlatParameters>(model.predictor->named_parameters());
  optim::FlatParameters target(model.target_encoder->named_parameters(), false);
  optim::AdamW adamw({encoder, predictor});
  models::MultiBlockMaskConfig mask_config = models::MultiBlockMaskConfig::ijepa_pretrain(c.img / c.patch);
  mask_config.min_keep = c.min_keep;
  const models::MultiBlockMask masker(mask_config);
  const Tensor images = normal({c.batch, c.channels, c.img, c.img}, 0.0, 1.0, gen);
  const Tensor on_gpu = images.to(kGpu);
  std::vector<std::pair<std::string, Tensor>> work{{"images", images}};
  const int64_t warmup = 2;
  std::vector<double> times;
  for (int64_t s = 0; s < warmup + c.steps; ++s) {
    const models::MaskBatch masks = masker.sample(c.batch, s);
    std::vector<Tensor> context, targets;
    for (size_t i = 0; i < masks.context.size(); ++i) {
      work.emplace_back("step" + std::to_string(s) + ".context" + std::to_string(i), masks.context[i]);
      context.push_back(masks.context[i].to(kGpu));
    }
    for (size_t i = 0; i < masks.targets.size(); ++i) {
      work.emplace_back("step" + std::to_string(s) + ".target" + std::to_string(i), masks.targets[i]);
      targets.push_back(masks.targets[i].to(kGpu));
    }
    if (s == warmup) gpu::reset_peak_memory(0);
    gpu::synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    adamw.zero_grad();
    model.loss(on_gpu, context, targets).backward();
    adamw.step(1e-3, 0.04);
    optim::ema_update(target, *encoder, 0.996);
    gpu::synchronize();
    if (s >= warmup) times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  const double ms = times[times.size() / 2];
  if (!dump_dir.empty()) {
    const std::map<std::string, std::string> meta{
        {"config", c.name}, {"model", c.vit}, {"img", std::to_string(c.img)}, {"patch", std::to_string(c.patch)},
        {"channels", std::to_string(c.channels)}, {"depth", std::to_string(cfg.encoder.depth)},
        {"pred-dim", std::to_string(c.pred_dim)}, {"pred-depth", std::to_string(c.pred_depth)},
        {"steps", std::to_string(warmup + c.steps)}, {"warmup", std::to_string(warmup)}};
    save_safetensors(dump_dir + "/" + c.name + ".safetensors", work, meta);
  }
  print_line(json::ObjectWriter()
                 .add("bench", "ijepa_step")
                 .add("config", c.name)
                 .add("batch", c.batch)
                 .add("ms", ms)
                 .add("images_per_s", c.batch / ms * 1e3)
                 .add("peak_memory_mib", gpu::memory_stats(0).peak_in_use_bytes / 1048576.0));
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string dump_dir;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) quick = true;
    else if (!std::strcmp(argv[i], "--dump-dir") && i + 1 < argc) dump_dir = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s [--quick] [--dump-dir DIR]\n", argv[0]);
      return 2;
    }
  }
  if (!gpu::available()) {
    print_line(json::ObjectWriter().add("bench", gpu::backend().name).add("skipped", gpu::unavailable_reason()));
    return 0;
  }
  if (quick) {  // every path once, at sizes an emulated GPU runs in seconds
    repeats = 2;
    bench_gemm(64, 48, 32);
    for (DType dt : {DType::f32, DType::bf16}) bench_attention(1, 2, 16, 32, dt);
    bench_bandwidth(64, 32);
    bench_ijepa_step({"quickstart_tiny", "vit_tiny", 32, 4, 1, 1, 48, 1, 4, 2, 4}, dump_dir);  // 48: vit_tiny has 3 heads; min_keep 4 as train-ijepa's
    return 0;
  }
  bench_gemm(4096, 4096, 4096);
  bench_gemm(64 * 49, 576, 192);  // the quick-start I-JEPA's qkv projection
  for (DType dt : {DType::f32, DType::bf16}) {
    bench_attention(64, 3, 49, 64, dt);
    bench_attention(32, 12, 197, 64, dt);
    bench_attention(8, 16, 1024, 128, dt);
  }
  bench_bandwidth(64 * 196, 192);
  bench_bandwidth(32768, 768);
  // The quick-start model (ViT 192/6/3 on 28x28 with 4x4 patches, predictor 96/3), then ViT-S/16
  // and ViT-B/16 at 224x224 with a 384-wide, 6-block predictor, batch 64.
  bench_ijepa_step({"quickstart", "vit_tiny", 28, 4, 1, 6, 96, 3, 64, 10}, dump_dir);
  bench_ijepa_step({"vit_s16_224", "vit_small", 224, 16, 3, 0, 384, 6, 64, 10}, dump_dir);
  bench_ijepa_step({"vit_b16_224", "vit_base", 224, 16, 3, 0, 384, 6, 64, 10}, dump_dir);
  return 0;
}
