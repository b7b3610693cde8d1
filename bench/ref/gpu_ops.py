#!/usr/bin/python3
"""PyTorch on the GPU kernels bench_gpu times, same shapes, one JSON line each: attention through
F.scaled_dot_product_attention (forward, forward + backward) and GEMM through torch.matmul
(cuBLAS), f32, TF32 and bf16. scripts/gpu-check.sh puts them beside bench_cuda's figures.
  python3 bench/ref/gpu_ops.py [--device cuda] [--quick]
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F


def median_ms(f, device, repeats):
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()
    f()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        sync()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def gemm(M, N, K, device, repeats):
    for mode, dtype, tf32 in (("f32", torch.float32, False), ("tf32", torch.float32, True), ("bf16", torch.bfloat16, False)):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        a = torch.rand(M, K, device=device, dtype=dtype) * 2 - 1
        b = torch.rand(K, N, device=device, dtype=dtype) * 2 - 1
        ms = median_ms(lambda: a @ b, device, repeats)
        print(json.dumps({"bench": "torch_gemm", "mode": mode, "M": M, "N": N, "K": K, "ms": round(ms, 4),
                          "tflops": round(2.0 * M * N * K / ms * 1e-9, 3)}))
    torch.backends.cuda.matmul.allow_tf32 = False


def attention(B, H, N, D, dtype, device, repeats):
    q, k, v, dout = (torch.rand(B, H, N, D, device=device, dtype=dtype) * 2 - 1 for _ in range(4))
    fwd = median_ms(lambda: F.scaled_dot_product_attention(q, k, v), device, repeats)
    qg, kg, vg = (t.detach().requires_grad_() for t in (q, k, v))
    both = median_ms(lambda: F.scaled_dot_product_attention(qg, kg, vg).backward(dout), device, repeats)
    print(json.dumps({"bench": "torch_attention", "dtype": "f32" if dtype == torch.float32 else "bf16", "B": B, "H": H,
                      "N": N, "D": D, "sdpa_fwd_ms": round(fwd, 4), "sdpa_fwd_bwd_ms": round(both, 4)}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.quick:  # bench_gpu --quick's sizes
        gemm(64, 48, 32, device, 2)
        for dtype in (torch.float32, torch.bfloat16):
            attention(1, 2, 16, 32, dtype, device, 2)
        return
    gemm(4096, 4096, 4096, device, 20)
    gemm(64 * 49, 576, 192, device, 20)
    for dtype in (torch.float32, torch.bfloat16):
        attention(64, 3, 49, 64, dtype, device, 20)
        attention(32, 12, 197, 64, dtype, device, 20)
        attention(8, 16, 1024, 128, dtype, device, 20)


if __name__ == "__main__":
    main()
