#!/usr/bin/python3
"""Checks tests/ref/ijepa_reference.py against the official I-JEPA code itself: runs the official
modules (src/models/vision_transformer.py, src/helper.py init_opt, src/masks/utils.py,
src/utils/tensors.py, the EMA of src/train.py) on tests/data/ijepa/step.safetensors and compares
with what make_ijepa_reference.py stored there. The official code is not part of this repository:

    git clone https://github.com/facebookresearch/ijepa /tmp/ijepa   # or any checkout of it
    /usr/bin/python3 tests/ref/check_reference_against_official.py /tmp/ijepa

Prints the max normwise relative difference per group; the stored data is float32, so about 1e-7
is agreement.
"""
import copy
import os
import sys
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F

from safetensors_io import load

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "ijepa", "step.safetensors")


def main():
    sys.path.insert(0, sys.argv[1])
    import src.models.vision_transformer as vit
    from src.helper import init_opt
    from src.masks.utils import apply_masks
    from src.utils.tensors import repeat_interleave_batch

    t, m = load(DATA)
    meta = {k: float(v) for k, v in m.items()}
    batch, nenc, npred = t["images"].shape[0], sum(k.startswith("masks_enc.") for k in t), \
        sum(k.startswith("masks_pred.") for k in t)
    grid = int(meta["img"]) // int(meta["patch"])
    encoder = vit.VisionTransformer(img_size=[int(meta["img"])], patch_size=int(meta["patch"]),
                                    in_chans=int(meta["channels"]), embed_dim=int(meta["dim"]),
                                    depth=int(meta["depth"]), num_heads=int(meta["heads"]), qkv_bias=True,
                                    norm_layer=partial(torch.nn.LayerNorm, eps=1e-6))
    predictor = vit.vit_predictor(num_patches=grid * grid, embed_dim=int(meta["dim"]),
                                  predictor_embed_dim=int(meta["pred_dim"]), depth=int(meta["pred_depth"]),
                                  num_heads=int(meta["heads"]))
    target_encoder = copy.deepcopy(encoder)
    modules = (("encoder.", encoder), ("predictor.", predictor), ("target_encoder.", target_encoder))
    for prefix, module in modules:
        module.load_state_dict({k[len(prefix):]: torch.from_numpy(v.copy()) for k, v in t.items() if k.startswith(prefix)})
        module.double()
    images = torch.from_numpy(t["images"].copy()).double()
    masks_enc = [torch.from_numpy(t["masks_enc.%d" % i].copy()) for i in range(nenc)]
    masks_pred = [torch.from_numpy(t["masks_pred.%d" % i].copy()) for i in range(npred)]

    worst = {}

    def note(group, ours, stored):
        ours = ours.detach().double()
        stored = torch.from_numpy(np.array(stored, dtype=np.float64))
        worst[group] = max(worst.get(group, 0.0), ((ours - stored).norm() / stored.norm()).item())

    optimizer, _, lr_schedule, wd_schedule = init_opt(
        encoder, predictor, iterations_per_epoch=int(meta["recipe.iterations_per_epoch"]),
        start_lr=meta["recipe.start_lr"], ref_lr=meta["recipe.lr"], warmup=meta["recipe.warmup_epochs"],
        num_epochs=int(meta["recipe.epochs"]), wd=meta["recipe.weight_decay"],
        final_wd=meta["recipe.final_weight_decay"], final_lr=meta["recipe.final_lr"],
        ipe_scale=meta["recipe.ipe_scale"])
    for group in optimizer.param_groups:
        group["eps"] = meta["adamw.eps"]
    lr, wd, momentum = lr_schedule.step(), wd_schedule.step(), meta["recipe.ema_start"]  # the first step's
    print("lr %r wd %r momentum %r (stored %r %r %r)" % (lr, wd, momentum, meta["step.lr"], meta["step.weight_decay"],
                                                          meta["step.momentum"]))
    with torch.no_grad():
        note("encoder outputs", encoder(images, masks_enc), t["out.context"])
        note("encoder outputs", target_encoder(images), t["out.target_encoder"])
        h = F.layer_norm(target_encoder(images), (int(meta["dim"]),))
        h = repeat_interleave_batch(apply_masks(h, masks_pred), batch, repeat=nenc)
    z = predictor(encoder(images, masks_enc), masks_enc, masks_pred)
    loss = F.smooth_l1_loss(z, h)
    note("predictions, targets, loss", z, t["out.prediction"])
    note("predictions, targets, loss", h, t["out.targets"])
    note("predictions, targets, loss", loss.reshape(1), t["out.loss"])
    loss.backward()
    for prefix, module in modules[:2]:
        for name, p in module.named_parameters():
            if p.requires_grad:
                note("gradients", p.grad, t["grad." + prefix + name])
    before = {prefix + n: p.detach().clone() for prefix, module in modules for n, p in module.named_parameters()}
    optimizer.step()
    with torch.no_grad():
        for online, target in zip(encoder.parameters(), target_encoder.parameters()):
            target.data.mul_(momentum).add_((1.0 - momentum) * online.detach().data)
    for prefix, module in modules:
        for name, p in module.named_parameters():
            if p.requires_grad:
                note("step updates", p - before[prefix + name], t["update." + prefix + name])
    for group, value in worst.items():
        print("%-28s max normwise relative difference, official vs stored reference: %.3g" % (group, value))


if __name__ == "__main__":
    main()
