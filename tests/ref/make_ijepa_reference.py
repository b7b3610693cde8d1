#!/usr/bin/python3
"""Writes the I-JEPA parity data that tests/test_ijepa_parity.cpp checks jepa-cpp against.

Run with Debian's python3-torch (CPU):  /usr/bin/python3 tests/ref/make_ijepa_reference.py
Outputs, in tests/data/ijepa/ (never edit them by hand; rerun this script):
  step.safetensors    a small I-JEPA (encoder 32 wide, 2 blocks, 4 heads, patch 4 on 20x20 single-
                      channel images = 5x5 tokens; predictor 16 wide, 2 blocks), its weights
                      (encoder.*, predictor.*, target_encoder.*: the official names), a batch of 3
                      images with 2 context and 3 target masks in our sampler's format ((B, K) int64,
                      ascending), the context-encoder output, the target-encoder output, predictions,
                      targets, loss, the gradient of every trainable parameter (grad.*), and the change
                      of every trainable parameter in one official step (update.*: AdamW with the
                      official groups, then the EMA), for the recipe in the metadata.
  sincos.safetensors  the official numpy 2-D sin-cos tables cast to float32, named dim_<D>_grid_<G>.
Weights and images are float32 values; everything is computed in float64 and stored as float32, so
the test measures jepa-cpp's float32 error against the exact result.
"""
import os

import numpy as np
import torch

import ijepa_reference as ref
from safetensors_io import save

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "ijepa")

IMG, PATCH, CHANNELS = 20, 4, 1
DIM, DEPTH, HEADS = 32, 2, 4
PRED_DIM, PRED_DEPTH = 16, 2
BATCH = 3
GRID = IMG // PATCH

# The official recipe's terms; the step is the first one (s = 1 for lr and wd, index 0 for EMA).
# Large lr and a low EMA start make the update far bigger than float32 rounding of the weights.
RECIPE = {"epochs": 2, "iterations_per_epoch": 5, "warmup_epochs": 1, "ipe_scale": 1.0,
          "start_lr": 0.01, "lr": 0.05, "final_lr": 0.001,
          "weight_decay": 0.04, "final_weight_decay": 0.4, "ema_start": 0.9, "ema_end": 1.0}

# AdamW's first step moves each entry by about lr * g / (|g| + eps). An entry whose exact gradient
# is 0 (the attention key bias: softmax ignores a shift shared by all keys) has a float32 gradient of
# rounding noise, which the official eps of 1e-8 would turn into a move of order lr. A larger eps
# bounds that amplification, so the comparison measures the step and not the noise.
ADAMW_EPS = 1e-4

# Per image: three target rectangles (top, left) of one size for the batch, as the official
# collator draws them, and two context rectangles that avoid them.
TARGET_SIZE, CONTEXT_SIZE = (2, 2), (4, 4)
TARGET_CORNERS = [[(0, 0), (2, 1), (1, 3)], [(3, 3), (0, 2), (2, 0)], [(1, 1), (3, 2), (0, 3)]]
CONTEXT_CORNERS = [[(1, 1), (0, 0)], [(0, 0), (1, 1)], [(1, 0), (0, 1)]]


def rectangle(corner, size):
    (top, left), (height, width) = corner, size
    return {r * GRID + c for r in range(top, top + height) for c in range(left, left + width)}


def masks():
    """(masks_enc list(2) of (B, Kc), masks_pred list(3) of (B, Kp)), cut to the shortest list."""
    targets = [[sorted(rectangle(c, TARGET_SIZE)) for c in image] for image in TARGET_CORNERS]
    contexts = []
    for image, target_corners in zip(CONTEXT_CORNERS, TARGET_CORNERS):
        covered = set().union(*(rectangle(c, TARGET_SIZE) for c in target_corners))
        contexts.append([sorted(rectangle(c, CONTEXT_SIZE) - covered) for c in image])

    def collate(per_image):  # [B][n][K_b] -> list(n) of (B, K_min)
        shortest = min(len(idx) for image in per_image for idx in image)
        return [torch.tensor([image[k][:shortest] for image in per_image], dtype=torch.int64)
                for k in range(len(per_image[0]))]

    return collate(contexts), collate(targets)


def state(prefix, module):
    return {prefix + n: t.detach().float().clone() for n, t in module.state_dict().items()}


def schedule_values():
    ipe = RECIPE["iterations_per_epoch"]
    warmup = int(RECIPE["warmup_epochs"] * ipe)
    total = int(RECIPE["ipe_scale"] * RECIPE["epochs"] * ipe)
    lr = ref.warmup_cosine_lr(1, warmup, total, RECIPE["start_lr"], RECIPE["lr"], RECIPE["final_lr"])
    wd = ref.cosine_weight_decay(1, total, RECIPE["weight_decay"], RECIPE["final_weight_decay"])
    momentum = ref.ema_momentum(0, RECIPE["ema_start"], RECIPE["ema_end"], ipe * RECIPE["epochs"] * RECIPE["ipe_scale"])
    return lr, wd, momentum


def step_case():
    gen = torch.Generator().manual_seed(2024)
    encoder = ref.VisionTransformer(IMG, PATCH, CHANNELS, DIM, DEPTH, HEADS)
    predictor = ref.VisionTransformerPredictor(GRID, DIM, PRED_DIM, PRED_DEPTH, HEADS)
    target_encoder = ref.VisionTransformer(IMG, PATCH, CHANNELS, DIM, DEPTH, HEADS)
    ref.randomize_weights(encoder, gen)
    ref.randomize_weights(predictor, gen)
    with torch.no_grad():  # a target encoder some EMA steps behind the context encoder
        for online, target in zip(encoder.parameters(), target_encoder.parameters()):
            target.copy_(online + (0.05 * torch.randn(online.shape, generator=gen) if online.requires_grad else 0))
    images = torch.randn(BATCH, CHANNELS, IMG, IMG, generator=gen)
    masks_enc, masks_pred = masks()

    t = {"images": images}
    t.update({"masks_enc.%d" % i: m for i, m in enumerate(masks_enc)})
    t.update({"masks_pred.%d" % i: m for i, m in enumerate(masks_pred)})
    for prefix, module in (("encoder.", encoder), ("predictor.", predictor), ("target_encoder.", target_encoder)):
        t.update(state(prefix, module))

    for module in (encoder, predictor, target_encoder):
        module.double()
    images = images.double()
    with torch.no_grad():
        t["out.context"] = encoder(images, masks_enc)
        t["out.target_encoder"] = target_encoder(images)
        loss, z, h = ref.ijepa_loss(encoder, predictor, target_encoder, images, masks_enc, masks_pred)
    t["out.prediction"], t["out.targets"] = z, h

    lr, wd, momentum = schedule_values()
    optimizer = ref.make_optimizer(encoder, predictor, eps=ADAMW_EPS)
    loss, grads = ref.train_step(encoder, predictor, target_encoder, optimizer, lr, wd, momentum, images, masks_enc,
                                 masks_pred)
    t["out.loss"] = loss.reshape(1)
    t.update({"grad." + n: g for n, g in grads.items()})
    for prefix, module in (("encoder.", encoder), ("predictor.", predictor), ("target_encoder.", target_encoder)):
        for n, p in module.named_parameters():
            if p.requires_grad:  # the change, taken in float64 before rounding: sharper than the new value
                t["update." + prefix + n] = p.detach() - t[prefix + n].double()

    t = {k: (v.detach().float() if v.is_floating_point() else v) for k, v in t.items()}
    meta = {"img": IMG, "patch": PATCH, "channels": CHANNELS, "dim": DIM, "depth": DEPTH, "heads": HEADS,
            "pred_dim": PRED_DIM, "pred_depth": PRED_DEPTH,
            "adamw.eps": repr(ADAMW_EPS), "step.lr": repr(lr), "step.weight_decay": repr(wd), "step.momentum": repr(momentum)}
    meta.update({"recipe." + k: repr(v) for k, v in RECIPE.items()})
    return t, meta


def sincos_case():
    tables = {}
    for dim, grid in [(DIM, GRID), (PRED_DIM, GRID), (192, 7), (1280, 4)]:
        tables["dim_%d_grid_%d" % (dim, grid)] = ref.sincos_2d(dim, grid).astype(np.float32)
    return tables


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    tensors, meta = step_case()
    save(os.path.join(OUT, "step.safetensors"), tensors, meta)
    save(os.path.join(OUT, "sincos.safetensors"), sincos_case())
    print("loss", tensors["out.loss"].item(), "lr", meta["step.lr"], "wd", meta["step.weight_decay"],
          "momentum", meta["step.momentum"])


if __name__ == "__main__":
    main()
