"""A plain-PyTorch restatement of the V-JEPA 2-AC predictor and its losses, written from the
semantics of the official code (facebookresearch/vjepa2 at c2963a4), for the reference scripts:
make_ac_reference.py (the test data), check_ac_checkpoint.py (converter and `jepa ac-predict` end to
end) and check_ac_reference_against_official.py (this file against the official modules).

How it maps to the official code:
  ACPredictor.__init__   src/models/ac_predictor.py:53-56 (predictor_embed, action_encoder,
                         state_encoder, extrinsics_encoder: all Linear with bias; the state and the
                         extrinsics encoders take action_embed_dim and action_embed_dim - 1 inputs
                         there, separate widths here), :79-102 (blocks, predictor_norm,
                         predictor_proj), :193-200 (LayerNorm eps 1e-6, mlp_ratio 4, qkv_bias)
  ACPredictor.forward    ac_predictor.py:141-153 (per frame [a_t, s_t, z_t], flattened),
                         :156 (the block-causal mask cut to the sequence), :184-188 (drop the two
                         cond tokens, predictor_norm, predictor_proj)
  block_causal_mask      src/models/utils/modules.py:12-23 (key frame <= query frame)
  Block.forward          modules.py:493-502 (pre-norm ACBlock), :72-88 (MLP, exact GELU)
  Attention.forward      modules.py:168-263 (ACRoPEAttention): positions :176-181 (t, h * grid / H,
                         w * grid / W with grid = grid_height, :84), cond tokens :184-206 (one
                         qkv, time-only rotation of the first d dims), patch tokens :209-234
                         (depth, height, width sections of d = 2 * ((dh // 3) // 2), the rest
                         unrotated), re-interleaved per frame :236-246, softmax attention with the
                         boolean mask and scale dh^-0.5 :248-252 (SDPA's default scale), proj :260-262
  rotate                 modules.py:26-55, reused from make_rope_reference.py (tiled frequencies)
  losses                 app/vjepa_droid/train.py:417-449 with loss_exp 1 and auto_steps steps,
                         the fixed rollout (z_1 = teacher-forced output at frame 0, :430),
                         F.layer_norm (eps 1e-5, no affine) after every predictor call :421-422
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ijepa_reference import MLP  # fc1, exact GELU, fc2: the official MLP
from make_rope_reference import rotate

COND_TOKENS = 2  # action and state; the extrinsics token is off in every released config


def block_causal_mask(frames, per_frame):
    """(N, N) bool: True where query i may attend key j, i.e. frame(j) <= frame(i)."""
    frame = torch.arange(frames * per_frame) // per_frame
    return frame.unsqueeze(1) >= frame.unsqueeze(0)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def split(self, x):
        """(B, n, C) -> q, k, v each (B, heads, n, dh)."""
        return self.qkv(x).unflatten(-1, (3, self.heads, -1)).permute(2, 0, 3, 1, 4)

    def forward(self, x, T, H, W, grid):
        B, N, C = x.shape
        dh = C // self.heads
        d = 2 * ((dh // 3) // 2)
        x = x.view(B, T, COND_TOKENS + H * W, C)
        # conditioning tokens: token i of every frame, turned by its frame index over the first d dims
        cond = []
        for i in range(COND_TOKENS):
            q, k, v = self.split(x[:, :, i])  # each (B, heads, T, dh)
            q = torch.cat([rotate(q[..., :d], torch.arange(T)), q[..., d:]], dim=-1)
            k = torch.cat([rotate(k[..., :d], torch.arange(T)), k[..., d:]], dim=-1)
            cond.append((q, k, v))
        cond = [torch.stack([c[j] for c in cond], dim=3) for j in range(3)]  # each (B, heads, T, 2, dh)
        # patch tokens: (t, row, col) of ids over the T x H x W grid, snapped to the grid size
        ids = torch.arange(T * H * W)
        t = ids // (H * W)
        row = (ids - t * H * W) // W
        col = ids - t * H * W - row * W
        coords = (1.0 * t, row * (grid / H), col * (grid / W))
        q, k, v = self.split(x[:, :, COND_TOKENS:].flatten(1, 2))  # each (B, heads, T*H*W, dh)

        def turn(y):
            parts = [rotate(y[..., a * d:(a + 1) * d], c) for a, c in enumerate(coords)]
            return torch.cat(parts + [y[..., 3 * d:]], dim=-1)

        patches = [turn(q), turn(k), v]
        q, k, v = [torch.cat([c, p.view(B, self.heads, T, H * W, dh)], dim=3).flatten(2, 3)
                   for c, p in zip(cond, patches)]  # each (B, heads, N, dh), per frame [a, s, patches]
        scores = (q @ k.transpose(-2, -1)) * dh ** -0.5
        scores = scores.masked_fill(~block_causal_mask(T, COND_TOKENS + H * W), float("-inf"))
        out = scores.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(B, N, C))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio=4.0, eps=1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = MLP(dim, int(dim * mlp_ratio))

    def forward(self, x, T, H, W, grid):
        x = x + self.attn(self.norm1(x), T, H, W, grid)
        return x + self.mlp(self.norm2(x))


class ACPredictor(nn.Module):
    """Official state-dict names and order; grid_height is the RoPE grid size (official grid_size)."""

    def __init__(self, embed_dim, dim, depth, heads, action_dim, state_dim, grid_height, eps=1e-6):
        super().__init__()
        self.grid = grid_height
        self.predictor_embed = nn.Linear(embed_dim, dim)
        self.action_encoder = nn.Linear(action_dim, dim)
        self.state_encoder = nn.Linear(state_dim, dim)
        self.extrinsics_encoder = nn.Linear(action_dim - 1, dim)  # built, never called
        self.predictor_blocks = nn.ModuleList([Block(dim, heads, eps=eps) for _ in range(depth)])
        self.predictor_norm = nn.LayerNorm(dim, eps=eps)
        self.predictor_proj = nn.Linear(dim, embed_dim)

    def forward(self, tokens, actions, states):
        """tokens (B, T, H*W, E) on a grid_height x W grid, actions (B, T, A), states (B, T, S) -> (B, T, H*W, E)."""
        B, T, HW, _ = tokens.shape
        H = self.grid
        W = HW // H
        x = torch.cat([self.action_encoder(actions).unsqueeze(2), self.state_encoder(states).unsqueeze(2),
                       self.predictor_embed(tokens)], dim=2).flatten(1, 2)
        for block in self.predictor_blocks:
            x = block(x, T, H, W, self.grid)
        x = x.view(B, T, COND_TOKENS + HW, -1)[:, :, COND_TOKENS:]
        return self.predictor_proj(self.predictor_norm(x))


def predict_normalized(model, tokens, actions, states):
    z = model(tokens, actions, states)
    return F.layer_norm(z, (z.shape[-1],))


def losses(model, features, actions, states, rollout_steps=2):
    """features (B, T, HW, D) layer-normed, actions (B, T-1, A), states (B, T, S) -> (L_tf, L_rollout)."""
    assert features.shape[1] >= rollout_steps + 1
    z_tf = predict_normalized(model, features[:, :-1], actions, states[:, :-1])
    teacher_forcing = torch.mean(torch.abs(z_tf - features[:, 1:]))
    z = torch.cat([features[:, :1], z_tf[:, :1]], dim=1)
    for n in range(1, rollout_steps):
        z_next = predict_normalized(model, z, actions[:, :n + 1], states[:, :n + 1])[:, -1:]
        z = torch.cat([z, z_next], dim=1)
    rollout = torch.mean(torch.abs(z[:, 1:] - features[:, 1:rollout_steps + 1]))
    return teacher_forcing, rollout
