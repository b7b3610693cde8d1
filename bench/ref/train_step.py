#!/usr/bin/python3
"""PyTorch twin of bench_train_step: the same I-JEPA model (tests/ref/ijepa_reference.py, the
official semantics), optimizer, EMA, images and masks, timed the same way; one JSON line.

  bench_train_step --dump work.safetensors      # writes the work
  /usr/bin/python3 bench/ref/train_step.py work.safetensors --threads 2
Run with OMP_WAIT_POLICY=PASSIVE and OPENBLAS_NUM_THREADS matched to --threads, or Debian's
PyTorch oversubscribes the cores (see shared toolchain notes).
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "ref"))
import ijepa_reference as ref  # noqa: E402
from safetensors_io import load  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("work")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    tensors, meta = load(args.work)
    steps, warmup = int(meta["steps"]), int(meta["warmup"])
    img, patch, channels = int(meta["img"]), int(meta["patch"]), int(meta["channels"])
    dim, _, heads, mlp_ratio = ref.VIT_SIZES[meta["model"]]
    depth = int(meta["depth"])
    torch.manual_seed(0)
    encoder = ref.VisionTransformer(img, patch, channels, dim, depth, heads, mlp_ratio)
    predictor = ref.VisionTransformerPredictor(img // patch, dim, int(meta["pred-dim"]), int(meta["pred-depth"]), heads,
                                               mlp_ratio)
    target = ref.VisionTransformer(img, patch, channels, dim, depth, heads, mlp_ratio)
    target.load_state_dict(encoder.state_dict())
    for p in target.parameters():
        p.requires_grad_(False)
    optimizer = ref.make_optimizer(encoder, predictor)
    images = torch.from_numpy(tensors["images"])

    def masks(step, kind):
        return [torch.from_numpy(tensors[k]) for k in sorted(k for k in tensors if k.startswith("step%d.%s" % (step, kind)))]

    times = []
    for s in range(steps):
        m_enc, m_pred = masks(s, "context"), masks(s, "target")
        t0 = time.perf_counter()
        ref.train_step(encoder, predictor, target, optimizer, 1e-3, 0.04, 0.996, images, m_enc, m_pred)
        if s >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
    median = statistics.median(times)
    batch = images.shape[0]
    print(json.dumps({"bench": "train_step", "impl": "pytorch", "torch": torch.__version__, "batch": batch,
                      "threads": torch.get_num_threads(), "step_ms": round(median, 2),
                      "images_per_s": round(1000.0 * batch / median, 1)}))


if __name__ == "__main__":
    main()
