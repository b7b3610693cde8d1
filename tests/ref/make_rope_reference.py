#!/usr/bin/python3
"""Writes the RoPE reference values that tests/test_ac_ops.cpp checks jepa::rope against.

Run with Debian's python3-torch (CPU):  /usr/bin/python3 tests/ref/make_rope_reference.py
Our own PyTorch re-implementation of the rotation V-JEPA 2-AC applies to queries and keys
(facebookresearch/vjepa2 src/models/utils/modules.py: rotate_queries_or_keys and
ACRoPEAttention.separate_positions / forward), written from their semantics, in float64:
  - a slice of D head dims turns with D / 2 frequencies 10000^(-i / (D / 2)), tiled over the slice
    (angles [f_0 .. f_{D/2-1}, f_0 .. f_{D/2-1}], the layout the official code keeps for its
    weights), against the partner vector (-x_1, x_0, -x_3, x_2, ...);
  - frame tokens: depth, height and width slices of d = 2 * ((dh // 3) // 2) dims each, with positions
    (t, row * grid / H, col * grid / W), the remaining dims unrotated;
  - conditioning tokens: the first d dims turned by the frame index t, the rest unrotated.
Writes tests/data/ac/rope.safetensors with, per case, x (B, H, N, dh), positions ((N, A) or
(B, N, A)), weight (like x), out = rope(x) and grad = d sum(out * weight) / dx; metadata
<case>.section = d. Never edit the output by hand; rerun this script.
"""
import os

import torch

from safetensors_io import save

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "ac")


def rotate(x, pos):
    """x (B, H, N, D), pos (N,) or (B, 1, N): each dim turned by pos times its tiled frequency."""
    half = x.shape[-1] // 2
    omega = 1.0 / 10000 ** (torch.arange(half, dtype=x.dtype) / half)  # (D/2,)
    angle = pos.to(x.dtype).unsqueeze(-1) * omega                       # (..., N, D/2)
    angle = torch.cat([angle, angle], dim=-1)                           # tiled, not interleaved
    pairs = x.unflatten(-1, (half, 2))
    partner = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    return x * angle.cos() + partner * angle.sin()


def frame_coordinates(ids, H, W, grid):
    """Token ids of a T x H x W grid -> (t, row, col) as ACRoPEAttention positions them."""
    t = ids // (H * W)
    row = (ids - t * H * W) // W
    col = ids - t * H * W - row * W
    return 1.0 * t, row * (grid / H), col * (grid / W)


def rope_frames(x, coords, d):
    parts = [rotate(x[..., a * d:(a + 1) * d], c) for a, c in enumerate(coords)]
    return torch.cat(parts + [x[..., 3 * d:]], dim=-1)


def rope_cond(x, T, d):
    return torch.cat([rotate(x[..., :d], torch.arange(T)), x[..., d:]], dim=-1)


def add_case(tensors, metadata, name, x, positions, out_of, d):
    x = x.clone().requires_grad_()
    weight = torch.randn(x.shape, dtype=x.dtype)
    out = out_of(x)
    (out * weight).sum().backward()
    tensors.update({f"{name}.x": x.detach(), f"{name}.positions": positions, f"{name}.weight": weight,
                    f"{name}.out": out.detach(), f"{name}.grad": x.grad})
    metadata[f"{name}.section"] = d


def main():
    torch.manual_seed(0)
    tensors, metadata = {}, {}
    grid = 16
    # dh 22: d = 6, three frequencies tiled over each pair of dims; 4 dims unrotated. Grid 2 x 3 so
    # the row and column positions are fractions (16 / 2, 16 / 3).
    for name, (B, heads, T, H, W, dh) in {"frames_dh22": (2, 2, 2, 2, 3, 22), "frames_dh64": (1, 2, 2, 2, 2, 64)}.items():
        d = 2 * ((dh // 3) // 2)
        coords = frame_coordinates(torch.arange(T * H * W), H, W, grid)
        x = torch.randn(B, heads, T * H * W, dh, dtype=torch.float64)
        add_case(tensors, metadata, name, x, torch.stack(coords, dim=-1), lambda v: rope_frames(v, coords, d), d)
    # The masked path: each sample keeps its own context token ids, so positions are per sample.
    B, heads, T, H, W, dh, keep = 2, 2, 2, 2, 3, 22, 5
    ids = torch.stack([torch.randperm(T * H * W)[:keep].sort().values for _ in range(B)])  # (B, keep)
    coords = frame_coordinates(ids, H, W, grid)
    d = 2 * ((dh // 3) // 2)
    add_case(tensors, metadata, "context_dh22", torch.randn(B, heads, keep, dh, dtype=torch.float64),
             torch.stack(coords, dim=-1), lambda v: rope_frames(v, [c.unsqueeze(1) for c in coords], d), d)
    # Conditioning (action or state) tokens: one per frame, time-only rotation.
    B, heads, T, dh = 2, 2, 3, 22
    d = 2 * ((dh // 3) // 2)
    add_case(tensors, metadata, "cond_dh22", torch.randn(B, heads, T, dh, dtype=torch.float64),
             torch.arange(T, dtype=torch.float64).unsqueeze(-1), lambda v: rope_cond(v, T, d), d)
    os.makedirs(OUT, exist_ok=True)
    save(os.path.join(OUT, "rope.safetensors"), tensors, metadata)


if __name__ == "__main__":
    main()
