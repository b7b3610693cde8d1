#!/usr/bin/python3
"""Converts an official I-JEPA checkpoint (facebookresearch/ijepa, a .pth.tar written by
src/train.py) into the encoder weights file `jepa embed` reads.

    /usr/bin/python3 tools/convert_ijepa_checkpoint.py IN.pth.tar --out OUT.safetensors
        [--which encoder|target_encoder] [--model vit_huge]

The checkpoint is a dict with 'encoder', 'target_encoder', 'predictor', 'opt', ... state dicts whose
names carry DDP's 'module.' prefix. One encoder is written (default target_encoder, the one the
official evaluations use) under the official names without that prefix, as float32 in the
checkpoint's order. Its size is inferred from the tensors (width and depth give the vit_* model,
the patch projection gives patch size and channels, pos_embed the token grid and so the image
size), every tensor is checked against the shapes that model must have, and the metadata records
model, patch, img and channels so `jepa embed` needs no size flags.
Needs torch (to unpickle the checkpoint: convert only checkpoints you trust, since torch < 2.6
unpickles arbitrary objects by default); the model table and the safetensors writer come from
tests/ref.
"""
import argparse
import math
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
from ijepa_reference import VIT_SIZES  # noqa: E402
from safetensors_io import save  # noqa: E402


class ConversionError(Exception):
    pass


def strip_ddp_prefix(state):
    return {(name[len("module."):] if name.startswith("module.") else name): t for name, t in state.items()}


def expected_shapes(model, patch, grid, channels):
    """name -> shape of every tensor in an official encoder's state_dict, in its order."""
    dim, depth, _, mlp_ratio = VIT_SIZES[model]
    hidden = int(dim * mlp_ratio)
    shapes = {"pos_embed": (1, grid * grid, dim), "patch_embed.proj.weight": (dim, channels, patch, patch),
              "patch_embed.proj.bias": (dim,)}
    for i in range(depth):
        block = {"norm1.weight": (dim,), "norm1.bias": (dim,),
                 "attn.qkv.weight": (3 * dim, dim), "attn.qkv.bias": (3 * dim,),
                 "attn.proj.weight": (dim, dim), "attn.proj.bias": (dim,),
                 "norm2.weight": (dim,), "norm2.bias": (dim,),
                 "mlp.fc1.weight": (hidden, dim), "mlp.fc1.bias": (hidden,),
                 "mlp.fc2.weight": (dim, hidden), "mlp.fc2.bias": (dim,)}
        shapes.update({"blocks.%d.%s" % (i, name): shape for name, shape in block.items()})
    shapes.update({"norm.weight": (dim,), "norm.bias": (dim,)})
    return shapes


def infer_spec(state, model=None):
    """(model, patch, img, channels) of an encoder state dict."""
    for name in ("patch_embed.proj.weight", "pos_embed"):
        if name not in state:
            raise ConversionError("the encoder has no '%s': not an I-JEPA ViT encoder" % name)
    weight = state["patch_embed.proj.weight"]
    if weight.dim() != 4 or weight.shape[2] != weight.shape[3]:
        raise ConversionError("patch_embed.proj.weight has shape %s, expected (D, C, p, p)" % list(weight.shape))
    dim, channels, patch = weight.shape[0], weight.shape[1], weight.shape[2]
    tokens = state["pos_embed"].shape[1] if state["pos_embed"].dim() == 3 else -1
    grid = math.isqrt(max(tokens, 0))
    if grid * grid != tokens:
        raise ConversionError("pos_embed has shape %s, expected (1, grid*grid, D)" % list(state["pos_embed"].shape))
    depth = len({name.split(".")[1] for name in state if name.startswith("blocks.")})
    if model is None:
        matches = [m for m, (d, n, _, _) in VIT_SIZES.items() if (d, n) == (dim, depth)]
        if not matches:
            raise ConversionError("no official model has width %d and depth %d (known: %s)" % (
                dim, depth, ", ".join("%s %dx%d" % (m, d, n) for m, (d, n, _, _) in VIT_SIZES.items())))
        model = matches[0]
    elif model not in VIT_SIZES:
        raise ConversionError("unknown model '%s' (known: %s)" % (model, ", ".join(VIT_SIZES)))
    return model, patch, grid * patch, channels


def convert(checkpoint, which, model=None):
    """Returns (tensors in checkpoint order, metadata) of checkpoint[which]."""
    if not isinstance(checkpoint, dict) or which not in checkpoint:
        keys = ", ".join(map(str, checkpoint)) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ConversionError("the checkpoint has no '%s' (it has: %s)" % (which, keys))
    state = strip_ddp_prefix(checkpoint[which])
    model, patch, img, channels = infer_spec(state, model)
    shapes = expected_shapes(model, patch, img // patch, channels)
    missing = [name for name in shapes if name not in state]
    extra = [name for name in state if name not in shapes]
    wrong = ["'%s' of shape %s, the %s model expects %s" % (name, list(state[name].shape), model, list(shape))
             for name, shape in shapes.items() if name in state and tuple(state[name].shape) != shape]
    if missing or extra or wrong:
        problems = (["%d missing: %s" % (len(missing), ", ".join(missing[:4]))] if missing else []) + \
                   (["%d unexpected: %s" % (len(extra), ", ".join(extra[:4]))] if extra else []) + wrong[:4]
        raise ConversionError("'%s' does not match %s (patch %d, %d px, channels %d): %s" % (
            which, model, patch, img, channels, "; ".join(problems)))
    tensors = {name: state[name].detach().to(torch.float32).contiguous() for name in state}
    metadata = {"model": model, "patch": patch, "img": img, "channels": channels, "source": "ijepa " + which}
    return tensors, metadata


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", help="official I-JEPA .pth.tar")
    parser.add_argument("--out", required=True, help="output .safetensors")
    parser.add_argument("--which", choices=["encoder", "target_encoder"], default="target_encoder",
                        help="which encoder to write (default: target_encoder, the one evaluations use)")
    parser.add_argument("--model", help="model name, when width and depth do not identify it")
    args = parser.parse_args()
    try:
        checkpoint = torch.load(args.checkpoint, map_location="cpu")
        tensors, metadata = convert(checkpoint, args.which, args.model)
    except (ConversionError, OSError) as e:
        sys.exit("convert_ijepa_checkpoint: %s: %s" % (args.checkpoint, e))
    save(args.out, tensors, metadata)
    print("wrote %s of %s (%s, patch %d, %d px, channels %d, %d tensors) to %s" % (
        args.which, args.checkpoint, metadata["model"], metadata["patch"], metadata["img"], metadata["channels"],
        len(tensors), args.out))


if __name__ == "__main__":
    main()
