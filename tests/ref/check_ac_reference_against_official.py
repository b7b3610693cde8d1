#!/usr/bin/python3
"""Checks tests/ref/ac_reference.py against the official V-JEPA 2-AC code itself: builds the official
predictor (src/models/ac_predictor.py vit_ac_predictor with src/models/utils/modules.py) with the
weights of tests/data/ac/predictor_weights.safetensors and compares its outputs, parameter gradients
and the losses computed with it against what make_ac_reference.py stored in
tests/data/ac/predictor.safetensors. The official code is not part of this repository:

    git clone https://github.com/facebookresearch/vjepa2 /tmp/vjepa2   # or any checkout of it
    /usr/bin/python3 tests/ref/check_ac_reference_against_official.py /tmp/vjepa2

The official modules import timm only for drop_path (rate 0 here) and call
F.scaled_dot_product_attention (torch >= 2.0); on an older torch both are stood in for: drop_path by
the identity, SDPA by softmax(q k^T / sqrt(dh)) v over the boolean mask, which is what SDPA computes.
Prints the worst normwise relative difference per group; the stored data is float32, so about 1e-7
is agreement. Exits non-zero above 1e-6.
"""
import contextlib
import os
import sys
import types

import numpy as np
import torch
import torch.nn.functional as F

import ac_reference as ref
from safetensors_io import load

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "ac")
TOLERANCE = 1e-6
PATCH = 16  # any: the official predictor only divides the image size by it


def stand_in_for_missing_dependencies():
    if "timm" not in sys.modules:
        try:
            import timm  # noqa: F401
        except ImportError:
            layers = types.ModuleType("timm.models.layers")
            layers.drop_path = lambda x, drop_prob=0.0, training=False: x
            sys.modules.update({"timm": types.ModuleType("timm"), "timm.models": types.ModuleType("timm.models"),
                                "timm.models.layers": layers})
    if not hasattr(F, "scaled_dot_product_attention"):
        def sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False):
            assert dropout_p == 0.0 and not is_causal
            scores = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5
            if attn_mask is not None:
                scores = scores.masked_fill(~attn_mask, float("-inf"))
            return scores.softmax(dim=-1) @ v
        F.scaled_dot_product_attention = sdpa
    if not hasattr(torch.backends.cuda, "sdp_kernel"):
        torch.backends.cuda.sdp_kernel = contextlib.nullcontext


def main():
    sys.path.insert(0, sys.argv[1])
    stand_in_for_missing_dependencies()
    from src.models.ac_predictor import vit_ac_predictor

    t, m = load(os.path.join(DATA, "predictor.safetensors"))
    weights, _ = load(os.path.join(DATA, "predictor_weights.safetensors"))
    tensor = lambda name: torch.from_numpy(t[name].copy()).double()
    grid_h, grid_w, wide_w = int(m["grid_height"]), int(m["grid_width"]), int(m["wide_grid_width"])
    tokens = tensor("forward.tokens")
    B, T, _, embed = tokens.shape
    dim, action_dim = weights["action_encoder.weight"].shape
    depth = len({k.split(".")[1] for k in weights if k.startswith("predictor_blocks.")})

    def official(width):
        model = vit_ac_predictor(img_size=(grid_h * PATCH, width * PATCH), patch_size=PATCH, num_frames=2 * T,
                                 tubelet_size=2, embed_dim=embed, predictor_embed_dim=dim, depth=depth,
                                 num_heads=int(m["heads"]), action_embed_dim=action_dim, use_rope=True)
        missing, unexpected = model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.items()},
                                                    strict=False)
        assert missing == ["extrinsics_encoder.weight", "extrinsics_encoder.bias"] and not unexpected, (missing, unexpected)
        return model.double()

    def run(model, z, a, s):  # official layout (B, T*HW, E) <-> ours (B, T, HW, E)
        return model(z.flatten(1, 2), a, s).view(z.shape[0], z.shape[1], z.shape[2], -1)

    worst = {}

    def note(group, ours, stored):
        stored = torch.from_numpy(np.array(stored, dtype=np.float64))
        ours = ours.detach().double().reshape(stored.shape)
        worst[group] = max(worst.get(group, 0.0), ((ours - stored).norm() / stored.norm()).item())

    model = official(grid_w)
    actions, states = tensor("forward.actions"), tensor("forward.states")
    out = run(model, tokens, actions, states)
    note("forward", out, t["forward.out"])
    (out * tensor("forward.weight")).sum().backward()
    for name, p in model.named_parameters():
        if p.grad is not None:
            note("parameter gradients", p.grad, t["grad." + name])
    note("forward, 2 x %d grid" % wide_w, run(official(wide_w), tensor("wide.tokens"), actions, states), t["wide.out"])

    wrapped = lambda z, a, s: run(model, z, a, s)
    features = tensor("loss.features")
    terms = ref.losses(wrapped, features, tensor("loss.actions"), tensor("loss.states"), int(m["rollout_steps"]))
    for term, value in zip(("teacher_forcing", "rollout"), terms):
        note("loss " + term, value, t["loss." + term])

    for group, value in worst.items():
        print("%-28s normwise relative difference %.3g" % (group, value))
    sys.exit(0 if max(worst.values()) <= TOLERANCE else 1)


if __name__ == "__main__":
    main()
