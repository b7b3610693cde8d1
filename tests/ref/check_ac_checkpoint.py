#!/usr/bin/python3
"""tools/convert_vjepa2_ac_checkpoint.py and `jepa ac-predict` end to end, against the PyTorch
reference predictor (ac_reference.py); CTest runs it as tool_convert_vjepa2_ac_checkpoint.

    /usr/bin/python3 tests/ref/check_ac_checkpoint.py --jepa build/cpu/examples/jepa

1. The reference predictor with the weights of tests/data/ac/predictor_weights.safetensors (its
   extrinsics_encoder, which that file lacks, keeps its seeded init) is saved as an official
   checkpoint: {'encoder', 'predictor', 'opt', 'scaler', 'target_encoder', 'epoch', ...} with DDP
   'module.' names, by torch.save.
2. The converter turns it into a weights file; `jepa ac-predict` runs it on tests/data/ac/*.npy and
   its output is compared with the reference predictor's, computed in float64.
3. The converter refuses a checkpoint without a predictor and one whose predictor lacks a tensor,
   naming what is wrong.
Prints the max abs difference and exits non-zero above 1e-4 or on a wrong error; exits 77 (CTest's
skip code here) when torch is not installed (Debian python3-torch).
"""
import argparse
import os
import subprocess
import sys
import tempfile

try:
    import torch
except ImportError:
    print("SKIPPED: no torch (install Debian python3-torch)")
    sys.exit(77)
import numpy as np

import ac_reference as ref
from safetensors_io import load

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
DATA = os.path.join(ROOT, "tests", "data", "ac")
CONVERTER = os.path.join(ROOT, "tools", "convert_vjepa2_ac_checkpoint.py")
TOLERANCE = 1e-4


def reference_model():
    weights, _ = load(os.path.join(DATA, "predictor_weights.safetensors"))
    _, meta = load(os.path.join(DATA, "predictor.safetensors"))
    dim, embed = weights["predictor_embed.weight"].shape
    depth = len({k.split(".")[1] for k in weights if k.startswith("predictor_blocks.")})
    torch.manual_seed(0)
    model = ref.ACPredictor(embed, dim, depth, int(meta["heads"]), weights["action_encoder.weight"].shape[1],
                            weights["state_encoder.weight"].shape[1], int(meta["grid_height"]))
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.items()},
                                                strict=False)
    assert missing == ["extrinsics_encoder.weight", "extrinsics_encoder.bias"] and not unexpected
    return model, int(meta["heads"])


def official_checkpoint(predictor_state):
    return {"encoder": {}, "predictor": {"module." + k: v for k, v in predictor_state.items()}, "opt": {},
            "scaler": None, "target_encoder": {}, "epoch": 1, "loss": 0.0, "batch_size": 2, "world_size": 1,
            "lr": 4.25e-4}


def convert(checkpoint, work, name):
    path = os.path.join(work, name + ".pt")
    torch.save(checkpoint, path)
    out = os.path.join(work, name + ".safetensors")
    return subprocess.run([sys.executable, CONVERTER, path, "--out", out], capture_output=True, text=True), out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jepa", default=os.path.join(ROOT, "build", "cpu", "examples", "jepa"))
    args = parser.parse_args()
    model, heads = reference_model()
    ok = True
    with tempfile.TemporaryDirectory() as work:
        done, weights = convert(official_checkpoint(model.state_dict()), work, "official")
        print(done.stdout.strip())
        if done.returncode != 0:
            sys.exit("the converter failed: " + done.stderr)
        inputs = {name: os.path.join(DATA, name + ".npy") for name in ("tokens", "actions", "states")}
        predicted = os.path.join(work, "predicted.npy")
        subprocess.run([args.jepa, "ac-predict", "--weights", weights, "--heads", str(heads), "--tokens",
                        inputs["tokens"], "--actions", inputs["actions"], "--states", inputs["states"], "--out",
                        predicted], check=True)
        with torch.no_grad():
            expected = model.double()(*[torch.from_numpy(np.load(inputs[n])).double()
                                        for n in ("tokens", "actions", "states")]).numpy()
        ours = np.load(predicted)
        difference = np.abs(ours.astype(np.float64) - expected).max() if ours.shape == expected.shape else np.inf
        print("converted checkpoint through jepa ac-predict vs PyTorch: shape %s, max abs difference %.3g"
              % (ours.shape, difference))
        ok &= difference <= TOLERANCE

        state = model.state_dict()
        for name, checkpoint, message in [
                ("no_predictor", {"encoder": {}, "epoch": 1},
                 "the checkpoint has no 'predictor' (it has: encoder, epoch)"),
                ("incomplete", official_checkpoint({k: v for k, v in state.items() if k != "predictor_norm.bias"}),
                 "'predictor' does not match a predictor of width 28, depth 2, MLP 112, encoder width 16, action 2, "
                 "state 2: 1 missing: predictor_norm.bias")]:
            done, _ = convert(checkpoint, work, name)
            refused = done.returncode != 0 and message in done.stderr
            print("converter refuses %-13s %s" % (name + ":", "yes" if refused else "NO: " + done.stderr.strip()))
            ok &= refused
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
