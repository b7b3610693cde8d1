#!/usr/bin/python3
"""Writes the V-JEPA reference values that tests/test_vjepa_parity.cpp checks jepa-cpp against.

Run with Debian's python3-torch (CPU):  /usr/bin/python3 tests/ref/make_vjepa_reference.py
Our own PyTorch re-implementation of the official V-JEPA pieces (facebookresearch/jepa:
src/models/utils/pos_embs.py, patch_embed.py, vision_transformer.py, predictor.py,
app/vjepa/train.py, src/utils/schedulers.py), written from their documented semantics:
  pos3d.safetensors    3-D sin-cos tables (numpy float64 -> float32), uniform_power and not,
                       with the truncation to D
  tubelet.safetensors  Conv3d tubelet embedding, flatten(2).transpose(1, 2)
  step.safetensors     two training steps of a tiny V-JEPA with fixed weights, clips and masks:
                       per-config encoder passes, predictor with one mask token per config, L1 to
                       the layer-normed target features, AdamW with the JEPA parameter groups and
                       schedules, per-module gradient clipping from the epoch after warm-up, EMA.
Never edit the outputs by hand; rerun this script.
"""
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

from safetensors_io import save

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "vjepa")


# ---- 3-D positions ---------------------------------------------------------------------------
def sincos_1d(dim, positions):
    omega = np.arange(dim // 2, dtype=np.float64) / (dim / 2.0)
    omega = 1.0 / 10000 ** omega
    out = np.einsum("m,d->md", positions.reshape(-1), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_3d(dim, depth, grid, uniform_power):
    """Rows ordered [t, h, w]; columns [time | row | column], cut to dim."""
    grid_h, grid_d, grid_w = np.meshgrid(np.arange(grid, dtype=float), np.arange(depth, dtype=float),
                                         np.arange(grid, dtype=float))
    if uniform_power:
        dd = dh = dw = int(np.ceil(dim / 6) * 2)
    else:
        dd, dh, dw = dim // 2, dim // 4, dim // 4
    table = np.concatenate([sincos_1d(dd, grid_d), sincos_1d(dh, grid_h), sincos_1d(dw, grid_w)], axis=1)
    return table[:, :dim].astype(np.float32)


POS_CASES = [  # (dim, time steps, grid, uniform_power)
    (10, 2, 2, True), (16, 3, 4, True), (24, 4, 3, True), (16, 2, 3, False), (128, 8, 4, True), (64, 8, 4, True),
]


def pos3d():
    t = {}
    for dim, depth, grid, up in POS_CASES:
        t["d%d_t%d_g%d_%s" % (dim, depth, grid, "up" if up else "half")] = sincos_3d(dim, depth, grid, up)
    return t, None


# ---- tubelet embedding -------------------------------------------------------------------------
def tubelet(gen):
    x = torch.randn(2, 2, 4, 8, 8, generator=gen)
    weight = torch.randn(6, 2, 2, 4, 4, generator=gen) * 0.2
    bias = torch.randn(6, generator=gen) * 0.1
    out = F.conv3d(x, weight, bias, stride=(2, 4, 4)).flatten(2).transpose(1, 2)
    return {"x": x, "weight": weight, "bias": bias, "out": out}, {"patch": 4, "tubelet": 2}


# ---- a tiny V-JEPA -----------------------------------------------------------------------------
FRAMES, TUBELET, IMG, PATCH, CHANNELS = 6, 2, 12, 4, 1
DIM, DEPTH, HEADS = 16, 2, 2
PRED_DIM, PRED_DEPTH = 12, 1
GRID, STEPS = IMG // PATCH, FRAMES // TUBELET
TOKENS = STEPS * GRID * GRID
EPS_BLOCK = 1e-6


def block_params(prefix, dim, gen):
    def w(*shape, scale=0.2):
        return torch.randn(*shape, generator=gen) * scale
    return {
        prefix + "norm1.weight": 1 + w(dim, scale=0.1), prefix + "norm1.bias": w(dim, scale=0.1),
        prefix + "attn.qkv.weight": w(3 * dim, dim), prefix + "attn.qkv.bias": w(3 * dim, scale=0.1),
        prefix + "attn.proj.weight": w(dim, dim), prefix + "attn.proj.bias": w(dim, scale=0.1),
        prefix + "norm2.weight": 1 + w(dim, scale=0.1), prefix + "norm2.bias": w(dim, scale=0.1),
        prefix + "mlp.fc1.weight": w(4 * dim, dim), prefix + "mlp.fc1.bias": w(4 * dim, scale=0.1),
        prefix + "mlp.fc2.weight": w(dim, 4 * dim), prefix + "mlp.fc2.bias": w(dim, scale=0.1),
    }


def encoder_params(gen):
    p = {"pos_embed": torch.from_numpy(sincos_3d(DIM, STEPS, GRID, True)).unsqueeze(0),
         "patch_embed.proj.weight": torch.randn(DIM, CHANNELS, TUBELET, PATCH, PATCH, generator=gen) * 0.2,
         "patch_embed.proj.bias": torch.randn(DIM, generator=gen) * 0.1}
    for i in range(DEPTH):
        p.update(block_params("blocks.%d." % i, DIM, gen))
    p["norm.weight"] = 1 + torch.randn(DIM, generator=gen) * 0.1
    p["norm.bias"] = torch.randn(DIM, generator=gen) * 0.1
    return p


def predictor_params(gen):
    p = {"mask_tokens.0": torch.randn(1, 1, PRED_DIM, generator=gen) * 0.2,
         "mask_tokens.1": torch.randn(1, 1, PRED_DIM, generator=gen) * 0.2,
         "predictor_pos_embed": torch.from_numpy(sincos_3d(PRED_DIM, STEPS, GRID, True)).unsqueeze(0),
         "predictor_embed.weight": torch.randn(PRED_DIM, DIM, generator=gen) * 0.2,
         "predictor_embed.bias": torch.randn(PRED_DIM, generator=gen) * 0.1}
    for i in range(PRED_DEPTH):
        p.update(block_params("predictor_blocks.%d." % i, PRED_DIM, gen))
    p["predictor_norm.weight"] = 1 + torch.randn(PRED_DIM, generator=gen) * 0.1
    p["predictor_norm.bias"] = torch.randn(PRED_DIM, generator=gen) * 0.1
    p["predictor_proj.weight"] = torch.randn(DIM, PRED_DIM, generator=gen) * 0.2
    p["predictor_proj.bias"] = torch.randn(DIM, generator=gen) * 0.1
    return p


def run_block(x, p, prefix, heads):
    B, N, D = x.shape
    h = F.layer_norm(x, (D,), p[prefix + "norm1.weight"], p[prefix + "norm1.bias"], eps=EPS_BLOCK)
    qkv = F.linear(h, p[prefix + "attn.qkv.weight"], p[prefix + "attn.qkv.bias"])
    q, k, v = qkv.reshape(B, N, 3, heads, D // heads).permute(2, 0, 3, 1, 4)
    attn = torch.softmax(q @ k.transpose(-2, -1) * (D // heads) ** -0.5, dim=-1)
    x = x + F.linear((attn @ v).transpose(1, 2).reshape(B, N, D), p[prefix + "attn.proj.weight"],
                     p[prefix + "attn.proj.bias"])
    h = F.layer_norm(x, (D,), p[prefix + "norm2.weight"], p[prefix + "norm2.bias"], eps=EPS_BLOCK)
    return x + F.linear(F.gelu(F.linear(h, p[prefix + "mlp.fc1.weight"], p[prefix + "mlp.fc1.bias"])),
                        p[prefix + "mlp.fc2.weight"], p[prefix + "mlp.fc2.bias"])


def gather_tokens(x, mask):  # apply_masks with one mask: x (B, N, D), mask (B, K) -> (B, K, D)
    return torch.gather(x, 1, mask.unsqueeze(-1).expand(-1, -1, x.size(-1)))


def encoder_forward(p, clips, mask=None):
    x = F.conv3d(clips, p["patch_embed.proj.weight"], p["patch_embed.proj.bias"],
                 stride=(TUBELET, PATCH, PATCH)).flatten(2).transpose(1, 2)
    x = x + p["pos_embed"]
    if mask is not None:
        x = gather_tokens(x, mask)
    for i in range(DEPTH):
        x = run_block(x, p, "blocks.%d." % i, HEADS)
    return F.layer_norm(x, (DIM,), p["norm.weight"], p["norm.bias"], eps=EPS_BLOCK)


def predictor_forward(p, z, ctx, tgt, mask_index):
    B = z.size(0)
    x = F.linear(z, p["predictor_embed.weight"], p["predictor_embed.bias"])
    pos = p["predictor_pos_embed"].repeat(B, 1, 1)
    x = x + gather_tokens(pos, ctx)
    token = p["mask_tokens.%d" % mask_index].repeat(B, TOKENS, 1)
    pred = gather_tokens(token, tgt) + gather_tokens(pos, tgt)
    n_ctx = x.size(1)
    x = torch.cat([x, pred], dim=1)
    for i in range(PRED_DEPTH):
        x = run_block(x, p, "predictor_blocks.%d." % i, HEADS)
    x = F.layer_norm(x, (PRED_DIM,), p["predictor_norm.weight"], p["predictor_norm.bias"], eps=EPS_BLOCK)
    return F.linear(x[:, n_ctx:], p["predictor_proj.weight"], p["predictor_proj.bias"])


def vjepa_loss(enc, pred, target, clips, masks):
    with torch.no_grad():
        h = encoder_forward(target, clips)
        h = F.layer_norm(h, (h.size(-1),))
    loss = 0.0
    for i, (ctx, tgt) in enumerate(masks):
        z = predictor_forward(pred, encoder_forward(enc, clips, ctx), ctx, tgt, i)
        loss = loss + torch.mean(torch.abs(z - gather_tokens(h, tgt)))
    return loss / len(masks)


# The recipe (official formulas): ipe 1, 3 epochs, warm-up 0.5 epochs (0 steps), ipe_scale 1.25.
IPE, EPOCHS, WARMUP, IPE_SCALE = 1, 3, 0.5, 1.25
START_LR, LR, FINAL_LR = 2e-3, 1e-2, 1e-4
WD, FINAL_WD, EMA = 0.04, 0.4, (0.9, 1.0)
CLIP = 0.1  # between the two modules' gradient norms at step 2 (about 0.07 and 0.56): only the predictor is clipped


def lr_at(step):  # WarmupCosineSchedule after `step` calls of step()
    warmup, total = int(WARMUP * IPE), int(IPE_SCALE * EPOCHS * IPE)
    if step < warmup:
        return START_LR + step / max(1, warmup) * (LR - START_LR)
    progress = (step - warmup) / max(1, total - warmup)
    return max(FINAL_LR, FINAL_LR + (LR - FINAL_LR) * 0.5 * (1 + math.cos(math.pi * progress)))


def wd_at(step):  # CosineWDSchedule, rising, clamped at the final value
    total = int(IPE_SCALE * EPOCHS * IPE)
    wd = FINAL_WD + (WD - FINAL_WD) * 0.5 * (1 + math.cos(math.pi * step / total))
    return min(FINAL_WD, wd)


def momentum_at(step):  # the i-th value of the official generator, i = step - 1
    return EMA[0] + (step - 1) * (EMA[1] - EMA[0]) / (IPE * EPOCHS * IPE_SCALE)


def training_step(gen):
    enc = {k: v.clone().requires_grad_(k != "pos_embed") for k, v in encoder_params(gen).items()}
    pred = {k: v.clone().requires_grad_(k != "predictor_pos_embed") for k, v in predictor_params(gen).items()}
    # A target encoder that already differs from the encoder, so the EMA and targets are seen.
    target = {k: (v + torch.randn(v.shape, generator=gen) * 0.05 if k != "pos_embed" else v).detach().clone()
              for k, v in enc.items()}
    clips = torch.randn(2, CHANNELS, FRAMES, IMG, IMG, generator=gen)
    masks = []
    for n_ctx in (12, 5):  # two configs, different index sets per clip, ascending as the sampler gives
        ctx, tgt = [], []
        for _ in range(2):
            perm = torch.randperm(TOKENS, generator=gen)
            ctx.append(perm[:n_ctx].sort().values)
            tgt.append(perm[n_ctx:n_ctx + 8].sort().values)
        masks.append((torch.stack(ctx), torch.stack(tgt)))

    out = {"clips": clips}
    for i, (ctx, tgt) in enumerate(masks):
        out["mask%d.context" % i], out["mask%d.target" % i] = ctx, tgt
    for prefix, params in (("encoder.", enc), ("predictor.", pred), ("target_encoder.", target)):
        for k, v in params.items():
            out["init." + prefix + k] = v.detach().clone()

    def decayed(name, t):
        return "bias" not in name and t.dim() != 1
    trainable = [(k, v) for p in (enc, pred) for k, v in p.items() if v.requires_grad]
    groups = [{"params": [v for k, v in trainable if decayed(k, v)]},
              {"params": [v for k, v in trainable if not decayed(k, v)], "WD_exclude": True, "weight_decay": 0}]
    opt = torch.optim.AdamW(groups, betas=(0.9, 0.999), eps=1e-8)

    for step in (1, 2):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
            if not g.get("WD_exclude", False):
                g["weight_decay"] = wd_at(step)
        opt.zero_grad()
        loss = vjepa_loss(enc, pred, target, clips, masks)
        loss.backward()
        epoch = (step - 1) // IPE
        if epoch > WARMUP:  # clip_grad_norm_ of each module on its own
            torch.nn.utils.clip_grad_norm_([v for v in enc.values() if v.requires_grad], CLIP)
            torch.nn.utils.clip_grad_norm_([v for v in pred.values() if v.requires_grad], CLIP)
        out["step%d.loss" % step] = loss.detach().reshape(1)
        if step == 1:
            for prefix, params in (("encoder.", enc), ("predictor.", pred)):
                for k, v in params.items():
                    if v.requires_grad:
                        out["step1.grad." + prefix + k] = v.grad.detach().clone()
        opt.step()
        m = momentum_at(step)
        with torch.no_grad():
            for k in target:
                target[k].mul_(m).add_((1.0 - m) * enc[k].detach())
        for prefix, params in (("encoder.", enc), ("predictor.", pred), ("target_encoder.", target)):
            for k, v in params.items():
                if "pos_embed" not in k:
                    out["step%d.%s%s" % (step, prefix, k)] = v.detach().clone()
    meta = {"ipe": IPE, "epochs": EPOCHS, "warmup": WARMUP, "ipe_scale": IPE_SCALE, "start_lr": START_LR, "lr": LR,
            "final_lr": FINAL_LR, "wd": WD, "final_wd": FINAL_WD, "ema_start": EMA[0], "ema_end": EMA[1],
            "clip": CLIP, "frames": FRAMES, "tubelet": TUBELET, "img": IMG, "patch": PATCH, "dim": DIM,
            "depth": DEPTH, "heads": HEADS, "pred_dim": PRED_DIM, "pred_depth": PRED_DEPTH}
    return out, meta


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    for name, make in [("pos3d", lambda gen: pos3d()), ("tubelet", tubelet), ("step", training_step)]:
        gen = torch.Generator().manual_seed(2024)
        tensors, meta = make(gen)
        save(os.path.join(OUT, name + ".safetensors"),
             {k: v.detach() if hasattr(v, "detach") else v for k, v in tensors.items()}, meta)
        print("wrote", name)


if __name__ == "__main__":
    main()
