#!/usr/bin/python3
"""Converts an official V-JEPA 2-AC checkpoint (facebookresearch/vjepa2, a .pt written by
app/vjepa_droid/train.py or the released vjepa2-ac-vitg.pt) into the predictor weights file
`jepa ac-predict` reads.

    /usr/bin/python3 tools/convert_vjepa2_ac_checkpoint.py IN.pt --out OUT.safetensors

The checkpoint is a dict with 'encoder', 'predictor', 'opt', ... state dicts. Its 'predictor' is
written under the official names, as float32 in the checkpoint's order, with 'module.' and
'backbone.' removed from the names as the official loader does (src/hub/backbones.py
_clean_backbone_key). The predictor's extrinsics_encoder is dropped: the official forward never
calls it (use_extrinsics=False in every released config) and jepa-cpp's predictor has none.
The sizes are inferred from the tensors (predictor_embed gives the predictor and encoder widths,
action_encoder and state_encoder the action and state dims, predictor_blocks.i the depth, mlp.fc1
the MLP width) and every tensor is checked against the shapes such a predictor has; the head count
is not in the shapes (the official predictor has 16: pass it to `jepa ac-predict --heads`).
Needs torch (to unpickle the checkpoint: convert only checkpoints you trust, since torch < 2.6
unpickles arbitrary objects by default); the safetensors writer comes from tests/ref.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
from safetensors_io import save  # noqa: E402

UNUSED_PREFIX = "extrinsics_encoder."


class ConversionError(Exception):
    pass


def clean_name(name):
    return name.replace("module.", "").replace("backbone.", "")


def infer_sizes(state):
    """(embed_dim, dim, action_dim, state_dim, depth, hidden, qkv_bias) of a predictor state dict."""
    for name in ("predictor_embed.weight", "action_encoder.weight", "state_encoder.weight"):
        if name not in state:
            raise ConversionError("the predictor has no '%s': not a V-JEPA 2-AC predictor" % name)
        if state[name].dim() != 2:
            raise ConversionError("'%s' has shape %s, expected a (out, in) matrix" % (name, list(state[name].shape)))
    dim, embed_dim = state["predictor_embed.weight"].shape
    depth = 0
    while "predictor_blocks.%d.norm1.weight" % depth in state:
        depth += 1
    fc1 = state.get("predictor_blocks.0.mlp.fc1.weight")
    hidden = fc1.shape[0] if fc1 is not None and fc1.dim() == 2 else 0
    return (embed_dim, dim, state["action_encoder.weight"].shape[1], state["state_encoder.weight"].shape[1], depth,
            hidden, "predictor_blocks.0.attn.qkv.bias" in state)


def expected_shapes(embed_dim, dim, action_dim, state_dim, depth, hidden, qkv_bias):
    """name -> shape of every tensor of such a predictor (without extrinsics_encoder), in the official order."""
    shapes = {"predictor_embed.weight": (dim, embed_dim), "predictor_embed.bias": (dim,),
              "action_encoder.weight": (dim, action_dim), "action_encoder.bias": (dim,),
              "state_encoder.weight": (dim, state_dim), "state_encoder.bias": (dim,)}
    for i in range(depth):
        block = {"norm1.weight": (dim,), "norm1.bias": (dim,), "attn.qkv.weight": (3 * dim, dim)}
        if qkv_bias:
            block["attn.qkv.bias"] = (3 * dim,)
        block.update({"attn.proj.weight": (dim, dim), "attn.proj.bias": (dim,),
                      "norm2.weight": (dim,), "norm2.bias": (dim,),
                      "mlp.fc1.weight": (hidden, dim), "mlp.fc1.bias": (hidden,),
                      "mlp.fc2.weight": (dim, hidden), "mlp.fc2.bias": (dim,)})
        shapes.update({"predictor_blocks.%d.%s" % (i, name): shape for name, shape in block.items()})
    shapes.update({"predictor_norm.weight": (dim,), "predictor_norm.bias": (dim,),
                   "predictor_proj.weight": (embed_dim, dim), "predictor_proj.bias": (embed_dim,)})
    return shapes


def convert(checkpoint):
    """Returns (tensors in checkpoint order, metadata, names dropped) of checkpoint['predictor']."""
    if not isinstance(checkpoint, dict) or "predictor" not in checkpoint:
        keys = ", ".join(map(str, checkpoint)) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ConversionError("the checkpoint has no 'predictor' (it has: %s)" % keys)
    state = {clean_name(name): t for name, t in checkpoint["predictor"].items()}
    dropped = [name for name in state if name.startswith(UNUSED_PREFIX)]
    state = {name: t for name, t in state.items() if not name.startswith(UNUSED_PREFIX)}
    sizes = infer_sizes(state)
    embed_dim, dim, action_dim, state_dim, depth, hidden, _ = sizes
    shapes = expected_shapes(*sizes)
    missing = [name for name in shapes if name not in state]
    extra = [name for name in state if name not in shapes]
    wrong = ["'%s' of shape %s, expected %s" % (name, list(state[name].shape), list(shape))
             for name, shape in shapes.items() if name in state and tuple(state[name].shape) != shape]
    if missing or extra or wrong:
        problems = (["%d missing: %s" % (len(missing), ", ".join(missing[:4]))] if missing else []) + \
                   (["%d unexpected: %s" % (len(extra), ", ".join(extra[:4]))] if extra else []) + wrong[:4]
        raise ConversionError("'predictor' does not match a predictor of width %d, depth %d, MLP %d, encoder width %d, "
                              "action %d, state %d: %s" % (dim, depth, hidden, embed_dim, action_dim, state_dim,
                                                           "; ".join(problems)))
    tensors = {name: t.detach().to(torch.float32).contiguous() for name, t in state.items()}
    metadata = {"source": "vjepa2-ac predictor", "embed_dim": embed_dim, "dim": dim, "depth": depth,
                "action_dim": action_dim, "state_dim": state_dim}
    return tensors, metadata, dropped


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", help="official V-JEPA 2-AC .pt")
    parser.add_argument("--out", required=True, help="output .safetensors")
    args = parser.parse_args()
    try:
        checkpoint = torch.load(args.checkpoint, map_location="cpu")
        tensors, metadata, dropped = convert(checkpoint)
    except (ConversionError, OSError) as e:
        sys.exit("convert_vjepa2_ac_checkpoint: %s: %s" % (args.checkpoint, e))
    save(args.out, tensors, metadata)
    print("wrote the predictor of %s (width %d, depth %d, encoder width %d, action %d, state %d; %d tensors%s) to %s" % (
        args.checkpoint, metadata["dim"], metadata["depth"], metadata["embed_dim"], metadata["action_dim"],
        metadata["state_dim"], len(tensors), ", dropped the unused " + ", ".join(dropped) if dropped else "",
        args.out))


if __name__ == "__main__":
    main()
