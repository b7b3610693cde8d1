"""I-JEPA in plain PyTorch, computing what the official code computes, for parity tests.

Re-stated from facebookresearch/ijepa (commit 52c1ae95): src/models/vision_transformer.py (encoder,
predictor, 2-D sin-cos table), src/masks/utils.py (apply_masks), src/utils/tensors.py
(repeat_interleave_batch), src/train.py (loss, EMA), src/helper.py (AdamW parameter groups) and
src/utils/schedulers.py (lr and weight-decay schedules). Module and parameter names, and the order
of state_dict() and parameters(), are the official ones, so official checkpoints load unchanged.
Everything works in any float dtype (the parity data is computed in float64).
Runs on Debian's python3-torch 1.13: /usr/bin/python3.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from safetensors_io import load

# name: (width, depth, heads, mlp ratio), the official vit_* factories.
VIT_SIZES = {
    "vit_tiny": (192, 12, 3, 4.0),
    "vit_small": (384, 12, 6, 4.0),
    "vit_base": (768, 12, 12, 4.0),
    "vit_large": (1024, 24, 16, 4.0),
    "vit_huge": (1280, 32, 16, 4.0),
    "vit_giant": (1408, 40, 16, 48 / 11),
}
NORM_EPS = 1e-6  # every LayerNorm inside the models


def sincos_1d(dim, positions):
    """(M, dim) float64: [sin(p w_k) | cos(p w_k)], w_k = 1 / 10000^(k / (dim/2)), numpy as official."""
    omega = np.arange(dim // 2, dtype=np.float64)
    omega /= dim / 2.0
    omega = 1.0 / 10000 ** omega
    angles = np.einsum("m,d->md", positions.reshape(-1), omega)
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)


def sincos_2d(dim, grid):
    """(grid*grid, dim) float64, token i*grid + j = [1-D(dim/2, column j) | 1-D(dim/2, row i)]."""
    axis = np.arange(grid, dtype=np.float64)
    column_of, row_of = np.meshgrid(axis, axis)  # [i, j] -> j and i: the official "w goes first"
    return np.concatenate([sincos_1d(dim // 2, column_of), sincos_1d(dim // 2, row_of)], axis=1)


def apply_masks(x, masks):
    """x (B, N, D), masks list of (B, K) -> (len(masks) * B, K, D), masks concatenated on dim 0."""
    return torch.cat([torch.gather(x, 1, m.unsqueeze(-1).expand(-1, -1, x.size(-1))) for m in masks], dim=0)


def repeat_interleave_batch(x, batch, repeats):
    """Chunks of `batch` rows along dim 0, each repeated `repeats` times in place."""
    chunks = [x[i * batch:(i + 1) * batch] for i in range(len(x) // batch)]
    return torch.cat([c for c in chunks for _ in range(repeats)], dim=0)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)  # columns [q | k | v], heads contiguous inside each
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, D = x.shape
        head_dim = D // self.heads
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, head_dim).permute(2, 0, 3, 1, 4)
        weights = ((q @ k.transpose(-2, -1)) * head_dim ** -0.5).softmax(dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(B, N, D))


class MLP(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # exact (erf) GELU, nn.GELU's default


class Block(nn.Module):
    """Pre-norm transformer block (drop path and dropout are 0 in every official config)."""

    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=NORM_EPS)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=NORM_EPS)
        self.mlp = MLP(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, channels, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(channels, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, N, D), tokens row-major over the grid


def fixed_table(dim, grid):
    """The sin-cos table as the official models hold it: a float32 parameter without gradient."""
    table = torch.from_numpy(sincos_2d(dim, grid)).float().unsqueeze(0)
    return nn.Parameter(table, requires_grad=False)


class VisionTransformer(nn.Module):
    """The I-JEPA encoder: patch embed, + pos_embed, optional token selection, blocks, final norm."""

    def __init__(self, img_size, patch_size, channels, dim, depth, heads, mlp_ratio=4.0):
        super().__init__()
        self.patch_embed = PatchEmbed(channels, dim, patch_size)
        self.pos_embed = fixed_table(dim, img_size // patch_size)
        self.blocks = nn.ModuleList([Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=NORM_EPS)
        self.heads = heads

    def forward(self, x, masks=None):
        x = self.patch_embed(x) + self.pos_embed
        if masks is not None:
            x = apply_masks(x, masks)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


class VisionTransformerPredictor(nn.Module):
    def __init__(self, grid, embed_dim, dim, depth, heads, mlp_ratio=4.0):
        super().__init__()
        self.predictor_embed = nn.Linear(embed_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.predictor_pos_embed = fixed_table(dim, grid)
        self.predictor_blocks = nn.ModuleList([Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.predictor_norm = nn.LayerNorm(dim, eps=NORM_EPS)
        self.predictor_proj = nn.Linear(dim, embed_dim)

    def forward(self, x, masks_x, masks):
        """x (nenc*B, Kc, D_enc), masks_x list(nenc) of (B, Kc), masks list(npred) of (B, Kp)
        -> (npred*nenc*B, Kp, D_enc), batch ordered [target mask, context mask, image]."""
        B = len(x) // len(masks_x)
        pos = self.predictor_pos_embed.repeat(B, 1, 1)
        x = self.predictor_embed(x) + apply_masks(pos, masks_x)
        context_tokens = x.size(1)
        targets = self.mask_token + repeat_interleave_batch(apply_masks(pos, masks), B, len(masks_x))
        x = torch.cat([x.repeat(len(masks), 1, 1), targets], dim=1)
        for block in self.predictor_blocks:
            x = block(x)
        return self.predictor_proj(self.predictor_norm(x)[:, context_tokens:])


def target_features(target_encoder, images, masks_enc, masks_pred):
    """layer_norm (no affine, eps 1e-5) of the target encoder's tokens at the target indices,
    repeated once per context mask: (npred*nenc*B, Kp, D)."""
    with torch.no_grad():
        h = target_encoder(images)
        h = F.layer_norm(h, (h.size(-1),))
        return repeat_interleave_batch(apply_masks(h, masks_pred), len(images), len(masks_enc))


def ijepa_loss(encoder, predictor, target_encoder, images, masks_enc, masks_pred):
    """Returns (loss, predictions z, targets h); loss = smooth_l1(z, h), beta 1, mean."""
    h = target_features(target_encoder, images, masks_enc, masks_pred)
    z = predictor(encoder(images, masks_enc), masks_enc, masks_pred)
    return F.smooth_l1_loss(z, h), z, h


def make_optimizer(encoder, predictor, eps=1e-8):
    """AdamW with the official groups: weight decay on parameters that are not biases and not
    1-D; none on the rest. lr and weight decay are set per step by train_step; eps 1e-8 is the
    official (PyTorch default) value."""
    groups = []
    for decayed in (True, False):
        for module in (encoder, predictor):
            params = [p for n, p in module.named_parameters() if ("bias" not in n and p.dim() != 1) == decayed]
            groups.append({"params": params, "exclude_from_decay": not decayed,
                           "weight_decay": 0.0})
    return torch.optim.AdamW(groups, betas=(0.9, 0.999), eps=eps)


def warmup_cosine_lr(step, warmup_steps, total_steps, start_lr, ref_lr, final_lr):
    """WarmupCosineSchedule after `step` calls of step() (step = 1 on the first iteration)."""
    if step < warmup_steps:
        return start_lr + (step / max(1, warmup_steps)) * (ref_lr - start_lr)
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return max(final_lr, final_lr + (ref_lr - final_lr) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def cosine_weight_decay(step, total_steps, ref_wd, final_wd):
    """CosineWDSchedule after `step` calls of step(), clamped toward final_wd."""
    wd = final_wd + (ref_wd - final_wd) * 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
    return max(final_wd, wd) if final_wd <= ref_wd else min(final_wd, wd)


def ema_momentum(index, start, end, total_steps):
    """The momentum generator's index-th value (index 0 on the first iteration)."""
    return start + index * (end - start) / total_steps


def train_step(encoder, predictor, target_encoder, optimizer, lr, weight_decay, momentum, images, masks_enc,
               masks_pred):
    """One official iteration: loss, backward, AdamW, EMA of the target encoder.
    Returns the loss and the gradients {"encoder.<name>" / "predictor.<name>": grad} it stepped with."""
    for group in optimizer.param_groups:
        group["lr"] = lr
        if not group["exclude_from_decay"]:
            group["weight_decay"] = weight_decay
    optimizer.zero_grad()
    loss, _, _ = ijepa_loss(encoder, predictor, target_encoder, images, masks_enc, masks_pred)
    loss.backward()
    grads = {prefix + n: p.grad.detach().clone() for prefix, module in (("encoder.", encoder), ("predictor.", predictor))
             for n, p in module.named_parameters() if p.requires_grad}
    optimizer.step()
    with torch.no_grad():
        for online, target in zip(encoder.parameters(), target_encoder.parameters()):
            target.mul_(momentum).add_((1.0 - momentum) * online)
    return loss.detach(), grads


def encoder_for(model, img_size, patch_size, channels):
    dim, depth, heads, mlp_ratio = VIT_SIZES[model]
    return VisionTransformer(img_size, patch_size, channels, dim, depth, heads, mlp_ratio)


def randomize_weights(module, gen):
    """Float32-representable random weights far from the official init, so every term matters:
    matrices ~ N(0, 1/fan_in), biases ~ N(0, 0.1^2), LayerNorm weights ~ 1 + N(0, 0.2^2)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if not p.requires_grad:
                continue  # the fixed sin-cos tables
            noise = torch.randn(p.shape, generator=gen)
            if name == "mask_token":
                p.copy_(0.5 * noise)
            elif p.dim() > 1:
                p.copy_(noise * p[0].numel() ** -0.5)
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * noise)
            else:
                p.copy_(0.1 * noise)


def load_weights(module, tensors, prefix=""):
    """Copies `prefix + name` of a {name: numpy array} dict (or a safetensors path) into every
    tensor of module.state_dict(); extra or missing names are errors."""
    if isinstance(tensors, str):
        tensors, _ = load(tensors)
    state = {name[len(prefix):]: torch.from_numpy(np.array(value)) for name, value in tensors.items()
             if name.startswith(prefix)}
    module.load_state_dict(state, strict=True)
