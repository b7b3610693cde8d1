#!/usr/bin/python3
"""Writes the V-JEPA 2-AC predictor reference that tests/test_ac_predictor.cpp checks jepa-cpp against.

Run with Debian's python3-torch (CPU):  /usr/bin/python3 tests/ref/make_ac_reference.py
The model is ac_reference.ACPredictor (our restatement of the official VisionTransformerPredictorAC;
ac_reference.py maps each part to the official file and lines): encoder width 16, predictor width 28,
2 heads (dh 14: three RoPE sections of 4 dims, each with two tiled frequencies, and 2 dims left
unrotated), depth 2, action and state dims 2. Its weights are float32 values drawn at a scale that
gives every term a say (the official init's 0.02 weights and zero biases would leave the attention
nearly uniform); the computation runs in float64 on them.
Writes tests/data/ac/:
  predictor_weights.safetensors  the weights under the official names, float32, without the unused
                                 extrinsics_encoder (jepa-cpp has none): what `jepa ac-predict` reads
  predictor.safetensors          float32 unless noted:
    forward.{tokens, actions, states}  B 2, T 3 frames on a 2 x 2 grid, and forward.out
    forward.weight, grad.<parameter name>, grad.{tokens, actions, states}: the gradients of
                                 sum(forward.out * forward.weight)
    wide.tokens, wide.out        the same weights, actions and states on a 2 x 3 grid (columns at
                                 RoPE positions 2/3 apart)
    loss.{features, actions, states}  layer-normed features of T 3 frames, 2 actions, 3 states;
                                 loss.teacher_forcing and loss.rollout (float64 scalars) and
                                 loss.<term>.grad.{features, actions, states}
    metadata                     heads, grid_height, grid_width, wide_grid_width, rollout_steps
  tokens.npy, actions.npy, states.npy   forward.{tokens, actions, states}, the `jepa ac-predict` inputs
Never edit the outputs by hand; rerun this script.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

import ac_reference as ref
from safetensors_io import save

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "ac")
EMBED, DIM, DEPTH, HEADS, ACTION, STATE = 16, 28, 2, 2, 2, 2
BATCH, FRAMES, GRID_H, GRID_W, WIDE_W = 2, 3, 2, 2, 3
ROLLOUT_STEPS = 2


def build_model(gen):
    """The reference model with float32-valued weights, in float64."""
    model = ref.ACPredictor(EMBED, DIM, DEPTH, HEADS, ACTION, STATE, GRID_H)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2:
                value = torch.randn(p.shape, generator=gen) / p.shape[1] ** 0.5
            elif "norm" in name and name.endswith("weight"):
                value = 1 + 0.1 * torch.randn(p.shape, generator=gen)
            else:
                value = 0.1 * torch.randn(p.shape, generator=gen)
            p.copy_(value.float())
    return model.double()


def weights_of(model):
    return {name: p.detach().float() for name, p in model.state_dict().items()
            if not name.startswith("extrinsics_encoder.")}


def inputs(gen, *shapes):
    return [torch.randn(shape, generator=gen).float().double().requires_grad_() for shape in shapes]


def main():
    gen = torch.Generator().manual_seed(21)
    model = build_model(gen)
    data = {}

    tokens, actions, states = inputs(gen, (BATCH, FRAMES, GRID_H * GRID_W, EMBED), (BATCH, FRAMES, ACTION),
                                     (BATCH, FRAMES, STATE))
    out = model(tokens, actions, states)
    weight = torch.randn(out.shape, generator=gen).float().double()
    (out * weight).sum().backward()
    data.update({"forward.tokens": tokens, "forward.actions": actions, "forward.states": states, "forward.out": out,
                 "forward.weight": weight})
    data.update({"grad." + name: p.grad for name, p in model.named_parameters()
                 if not name.startswith("extrinsics_encoder.")})
    data.update({"grad.tokens": tokens.grad, "grad.actions": actions.grad, "grad.states": states.grad})

    (wide,) = inputs(gen, (BATCH, FRAMES, GRID_H * WIDE_W, EMBED))
    data.update({"wide.tokens": wide, "wide.out": model(wide, actions, states)})

    features = F.layer_norm(torch.randn(BATCH, FRAMES, GRID_H * GRID_W, EMBED, generator=gen), (EMBED,))
    features = features.float().double().requires_grad_()
    loss_actions, loss_states = inputs(gen, (BATCH, FRAMES - 1, ACTION), (BATCH, FRAMES, STATE))
    data.update({"loss.features": features, "loss.actions": loss_actions, "loss.states": loss_states})
    for term, value in zip(("teacher_forcing", "rollout"), ref.losses(model, features, loss_actions, loss_states,
                                                                       ROLLOUT_STEPS)):
        leaves = (features, loss_actions, loss_states)
        grads = torch.autograd.grad(value, leaves, retain_graph=True)
        data["loss." + term] = value.detach().numpy()  # float64
        for leaf_name, grad in zip(("features", "actions", "states"), grads):
            data["loss.%s.grad.%s" % (term, leaf_name)] = grad

    tensors = {k: (v if isinstance(v, np.ndarray) else v.detach().float()) for k, v in data.items()}
    metadata = {"heads": HEADS, "grid_height": GRID_H, "grid_width": GRID_W, "wide_grid_width": WIDE_W,
                "rollout_steps": ROLLOUT_STEPS}
    os.makedirs(OUT, exist_ok=True)
    save(os.path.join(OUT, "predictor_weights.safetensors"), weights_of(model))
    save(os.path.join(OUT, "predictor.safetensors"), tensors, metadata)
    for name in ("tokens", "actions", "states"):
        np.save(os.path.join(OUT, name + ".npy"), tensors["forward." + name].numpy())


if __name__ == "__main__":
    main()
