#!/usr/bin/python3
"""`jepa embed` against the PyTorch reference encoder, end to end; also writes the data of the CTest
jepa_tool_init_embed (tests/test_ijepa_parity.cpp), which needs no torch.

    /usr/bin/python3 tests/ref/check_embed.py [--jepa build/cpu/examples/jepa]

1. An official-format checkpoint: reference encoder, predictor and target encoder (vit_tiny, patch 4,
   28 px, 1 channel, random weights) saved as {'encoder', 'predictor', 'target_encoder', 'opt', ...}
   with DDP 'module.' names in a .pth.tar. tools/convert_ijepa_checkpoint.py turns it into a weights
   file, `jepa embed` runs on it (sizes from the metadata), and its output is compared with the
   reference target encoder's.
2. A file holding all three modules under encoder., predictor. and target_encoder., without
   metadata: `jepa embed --prefix target_encoder.` with the size flags.
3. `jepa init --seed 7`, whose weights must follow the official initialisation: the reference output of those weights on tests/data/jepa_tool/images.npy
   goes to tests/data/jepa_tool/expected.safetensors with a fingerprint (sum and sum of squares of
   each tensor) of the weights, and `jepa embed` is compared with it. Rerun this script when
   jepa init's initialisation changes on purpose.
References are computed in float64. Prints the max abs and normwise relative difference of each
case and exits non-zero above 1e-4.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

import ijepa_reference as ref
from safetensors_io import load, save

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
DATA = os.path.join(ROOT, "tests", "data", "jepa_tool")
SPEC = {"model": "vit_tiny", "patch": 4, "img": 28, "channels": 1}
SPEC_ARGS = {"model": SPEC["model"], "img_size": SPEC["img"], "patch_size": SPEC["patch"],
             "channels": SPEC["channels"]}  # the same, as ijepa_reference.encoder_for takes it
SEED = 7
TOLERANCE = 1e-4


def spec_flags():
    return sum([["--" + k, str(v)] for k, v in SPEC.items()], [])


def run(*command):
    subprocess.run([str(c) for c in command], check=True)


def reference_embeddings(encoder, images):
    with torch.no_grad():
        return encoder.double()(torch.from_numpy(images).double()).numpy()


def compare(case, ours, expected):
    diff = np.abs(ours.astype(np.float64) - expected)
    relative = np.linalg.norm(diff) / np.linalg.norm(expected)
    print("%-44s max abs diff %.3g, normwise relative %.3g" % (case, diff.max(), relative))
    return diff.max() <= TOLERANCE


def embed(jepa, weights, images_path, out, *flags):
    run(jepa, "embed", "--weights", weights, "--input", images_path, "--out", out, "--batch-size", 2, *flags)
    return np.load(out)


def official_checkpoint_case(jepa, scratch, images_path, images):
    gen = torch.Generator().manual_seed(11)
    modules = {"encoder": ref.encoder_for(**SPEC_ARGS), "target_encoder": ref.encoder_for(**SPEC_ARGS),
               "predictor": ref.VisionTransformerPredictor(SPEC["img"] // SPEC["patch"], 192, 96, 2, 3)}
    for module in modules.values():
        ref.randomize_weights(module, gen)
    checkpoint = {name: {"module." + k: v for k, v in m.state_dict().items()} for name, m in modules.items()}
    optimizer = torch.optim.AdamW(modules["encoder"].parameters())
    checkpoint.update({"opt": optimizer.state_dict(), "scaler": None, "epoch": 1, "loss": 0.5, "batch_size": 2,
                       "world_size": 1, "lr": 1e-3})
    pth = os.path.join(scratch, "official.pth.tar")
    torch.save(checkpoint, pth)
    converted = os.path.join(scratch, "converted.safetensors")
    run(sys.executable, os.path.join(ROOT, "tools", "convert_ijepa_checkpoint.py"), pth, "--out", converted)
    expected = reference_embeddings(modules["target_encoder"], images)
    ok = compare("official checkpoint, converted", embed(jepa, converted, images_path,
                                                         os.path.join(scratch, "a.npy")), expected)

    everything = {}
    for name, module in modules.items():
        everything.update({name + "." + k: v.float() for k, v in module.state_dict().items()})
    combined = os.path.join(scratch, "combined.safetensors")
    save(combined, everything)
    ok &= compare("three modules, --prefix target_encoder.",
                  embed(jepa, combined, images_path, os.path.join(scratch, "b.npy"), "--prefix", "target_encoder.",
                        *spec_flags()), expected)
    return ok


def matches_official_init(tensors):
    """The official init_model's distribution: every matrix and the patch projection ~ N(0, 0.02^2)
    (truncated at +-2, i.e. not at all), no residual rescale; zero biases; unit LayerNorm weights;
    pos_embed the official sin-cos table."""
    grid = SPEC["img"] // SPEC["patch"]
    ok = np.array_equal(tensors["pos_embed"][0], ref.sincos_2d(tensors["pos_embed"].shape[-1], grid).astype(np.float32))
    worst = 0.0  # the largest deviation of a weight's sample mean or std, in standard errors
    for name, t in tensors.items():
        if name == "pos_embed":
            continue
        if t.ndim > 1:
            worst = max(worst, abs(t.mean()) / (0.02 / np.sqrt(t.size)), abs(t.std() / 0.02 - 1) * np.sqrt(2 * t.size))
        else:
            ok &= np.all(t == (1.0 if "norm" in name and name.endswith("weight") else 0.0))
    print("%-44s pos_embed, biases, norms exact: %s; weights' mean and std within %.2f standard errors"
          % ("jepa init vs the official init", ok, worst))
    return ok and worst < 5


def init_case(jepa, scratch, images_path, images):
    weights = os.path.join(scratch, "init.safetensors")
    run(jepa, "init", *spec_flags(), "--seed", SEED, "--out", weights)
    tensors, _ = load(weights)
    ok = matches_official_init(tensors)
    encoder = ref.encoder_for(**SPEC_ARGS)
    ref.load_weights(encoder, tensors)
    expected = reference_embeddings(encoder, images)
    fingerprint = np.array([[t.astype(np.float64).sum(), np.square(t.astype(np.float64)).sum()]
                            for t in tensors.values()])
    save(os.path.join(DATA, "expected.safetensors"),
         {"embeddings": expected.astype(np.float32), "init_fingerprint": fingerprint},
         dict(SPEC, seed=SEED))
    return ok & compare("jepa init --seed %d" % SEED,
                        embed(jepa, weights, images_path, os.path.join(scratch, "c.npy")), expected)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--jepa", default=os.path.join(ROOT, "build", "cpu", "examples", "jepa"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.makedirs(DATA, exist_ok=True)
    images = np.random.default_rng(0).standard_normal((3, SPEC["channels"], SPEC["img"], SPEC["img"]))
    images = images.astype(np.float32)
    images_path = os.path.join(DATA, "images.npy")
    np.save(images_path, images)
    with tempfile.TemporaryDirectory() as scratch:
        ok = official_checkpoint_case(args.jepa, scratch, images_path, images)
        ok &= init_case(args.jepa, scratch, images_path, images)
    sys.exit(0 if ok else "check_embed: a difference exceeds %g" % TOLERANCE)


if __name__ == "__main__":
    main()
