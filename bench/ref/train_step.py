#!/usr/bin/python3
"""PyTorch twin of bench_train_step: the same I-JEPA model (tests/ref/ijepa_reference.py, the
official semantics), optimizer, EMA, images and masks, timed the same way; one JSON line.

  bench_train_step --dump work.safetensors [--device cuda] [run flags]   # writes the work
  python3 bench/ref/train_step.py work.safetensors [--threads 2] [--device cuda] [--variant V]
Variants: official (attention written as the official code writes it, torch.optim.AdamW's
default implementation), sdpa (F.scaled_dot_product_attention), sdpa_fused (+ AdamW fused=True),
sdpa_fused_compile (+ torch.compile of the loss; compile time reported apart, excluded from the
median). The last three need PyTorch 2. Run CPU timings with OMP_WAIT_POLICY=PASSIVE and
OPENBLAS_NUM_THREADS matched to --threads, or Debian's PyTorch oversubscribes the cores.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "ref"))
import ijepa_reference as ref  # noqa: E402
from safetensors_io import load  # noqa: E402

VARIANTS = ("official", "sdpa", "sdpa_fused", "sdpa_fused_compile")


def sdpa_attention_forward(self, x):
    """ref.Attention.forward with the fused kernel in place of softmax(q k^T) v."""
    B, N, D = x.shape
    q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
    return self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, N, D))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("work")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--variant", choices=VARIANTS, default="official")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.variant != "official":
        ref.Attention.forward = sdpa_attention_forward
    tensors, meta = load(args.work)
    steps, warmup = int(meta["steps"]), int(meta["warmup"])
    img, patch, channels = int(meta["img"]), int(meta["patch"]), int(meta["channels"])
    dim, default_depth, heads, mlp_ratio = ref.VIT_SIZES[meta["model"]]
    depth = int(meta["depth"]) or default_depth
    torch.manual_seed(0)
    encoder = ref.VisionTransformer(img, patch, channels, dim, depth, heads, mlp_ratio).to(device)
    predictor = ref.VisionTransformerPredictor(img // patch, dim, int(meta["pred-dim"]), int(meta["pred-depth"]), heads,
                                               mlp_ratio).to(device)
    target = ref.VisionTransformer(img, patch, channels, dim, depth, heads, mlp_ratio).to(device)
    target.load_state_dict(encoder.state_dict())
    for p in target.parameters():
        p.requires_grad_(False)
    optimizer = ref.make_optimizer(encoder, predictor)
    if args.variant in ("sdpa_fused", "sdpa_fused_compile"):
        optimizer = torch.optim.AdamW(optimizer.param_groups, betas=(0.9, 0.999), eps=1e-8, fused=True)
    loss_fn = ref.ijepa_loss
    if args.variant == "sdpa_fused_compile":
        loss_fn = torch.compile(ref.ijepa_loss)
    images = torch.from_numpy(tensors["images"]).to(device)

    def masks(step, kind):
        names = sorted(k for k in tensors if k.startswith("step%d.%s" % (step, kind)))
        return [torch.from_numpy(tensors[k]).to(device) for k in names]

    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def step(m_enc, m_pred):
        for group in optimizer.param_groups:
            group["lr"] = 1e-3
            if not group["exclude_from_decay"]:
                group["weight_decay"] = 0.04
        optimizer.zero_grad(set_to_none=True)
        loss, _, _ = loss_fn(encoder, predictor, target, images, m_enc, m_pred)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            torch._foreach_lerp_(list(target.parameters()), list(encoder.parameters()), 1.0 - 0.996)

    times, warmup_ms = [], 0.0
    for s in range(steps):
        m_enc, m_pred = masks(s, "context"), masks(s, "target")
        if s == warmup and device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        synchronize()
        t0 = time.perf_counter()
        step(m_enc, m_pred)
        synchronize()
        elapsed = (time.perf_counter() - t0) * 1000
        if s >= warmup:
            times.append(elapsed)
        else:
            warmup_ms += elapsed
    median = statistics.median(times)
    batch = images.shape[0]
    figures = {"bench": "train_step", "impl": "pytorch", "variant": args.variant, "torch": torch.__version__,
               "device": args.device, "config": meta.get("config", ""), "model": meta["model"], "img": img,
               "batch": batch,
               "threads": torch.get_num_threads(), "step_ms": round(median, 2),
               "images_per_s": round(1000.0 * batch / median, 1), "warmup_ms": round(warmup_ms, 1)}
    if device.type == "cuda":
        figures["peak_memory_mib"] = round(torch.cuda.max_memory_allocated() / 1048576.0, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
