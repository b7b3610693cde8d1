#!/usr/bin/python3
"""Writes the PyTorch reference values that tests/test_parity.cpp checks jepa-cpp against.

Run with Debian's python3-torch (CPU):  /usr/bin/python3 tests/ref/make_reference.py
Each case is one safetensors file in tests/data/parity/ holding its inputs, parameters, outputs
and gradients, all float32 (labels int64). Never edit the outputs by hand; rerun this script.
"""
import math
import os

import torch
import torch.nn.functional as F

from safetensors_io import save

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "parity")


def leaf(*shape, scale=1.0, offset=0.0, gen):
    return (torch.randn(*shape, generator=gen) * scale + offset).requires_grad_()


def transformer_block(gen):
    """Pre-norm ViT block, attention written out from matmul and softmax."""
    B, N, D, H = 2, 7, 16, 2
    dh = D // H
    p = {
        "norm1.weight": leaf(D, scale=0.1, offset=1.0, gen=gen), "norm1.bias": leaf(D, scale=0.1, gen=gen),
        "attn.qkv.weight": leaf(3 * D, D, scale=0.2, gen=gen), "attn.qkv.bias": leaf(3 * D, scale=0.1, gen=gen),
        "attn.proj.weight": leaf(D, D, scale=0.2, gen=gen), "attn.proj.bias": leaf(D, scale=0.1, gen=gen),
        "norm2.weight": leaf(D, scale=0.1, offset=1.0, gen=gen), "norm2.bias": leaf(D, scale=0.1, gen=gen),
        "mlp.fc1.weight": leaf(4 * D, D, scale=0.2, gen=gen), "mlp.fc1.bias": leaf(4 * D, scale=0.1, gen=gen),
        "mlp.fc2.weight": leaf(D, 4 * D, scale=0.2, gen=gen), "mlp.fc2.bias": leaf(D, scale=0.1, gen=gen),
    }
    x = leaf(B, N, D, gen=gen)
    w_out = torch.randn(B, N, D, generator=gen)

    h = F.layer_norm(x, (D,), p["norm1.weight"], p["norm1.bias"], eps=1e-6)
    qkv = F.linear(h, p["attn.qkv.weight"], p["attn.qkv.bias"]).reshape(B, N, 3, H, dh).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    attn = torch.softmax(q @ k.transpose(-2, -1) * dh ** -0.5, dim=-1)
    a = (attn @ v).transpose(1, 2).reshape(B, N, D)
    y = x + F.linear(a, p["attn.proj.weight"], p["attn.proj.bias"])
    m = F.layer_norm(y, (D,), p["norm2.weight"], p["norm2.bias"], eps=1e-6)
    out = y + F.linear(F.gelu(F.linear(m, p["mlp.fc1.weight"], p["mlp.fc1.bias"])), p["mlp.fc2.weight"],
                       p["mlp.fc2.bias"])
    (out * w_out).sum().backward()

    t = {"x": x, "w_out": w_out, "out": out, "grad.x": x.grad}
    for name, value in p.items():
        t["param." + name] = value
        t["grad." + name] = value.grad
    return t, {"heads": H}


def chains(gen):
    """softmax / log_softmax / layer_norm / GELU chains and the losses, with their gradients."""
    x = leaf(4, 6, 10, gen=gen)
    w = leaf(10, 12, scale=0.3, gen=gen)
    ln_w = leaf(12, scale=0.1, offset=1.0, gen=gen)
    ln_b = leaf(12, scale=0.1, gen=gen)
    target = torch.randn(4, 6, 12, generator=gen)
    labels = torch.randint(0, 12, (24,), generator=gen)

    g = F.gelu(x @ w)                                           # (4, 6, 12)
    n = F.layer_norm(g, (12,), ln_w, ln_b, eps=1e-5)
    s = torch.softmax(n * 2.0, dim=1)                           # over a middle dim
    ls = F.log_softmax(n, dim=-1)
    l1 = F.smooth_l1_loss(s * 10.0, target, beta=1.0)
    l2 = F.l1_loss(n, target)
    l3 = F.mse_loss(ls.exp(), torch.softmax(target, -1))
    l4 = F.cross_entropy(n.reshape(24, 12), labels)
    loss = l1 + 0.5 * l2 + 2.0 * l3 + 0.1 * l4
    loss.backward()
    return {"x": x, "w": w, "ln_w": ln_w, "ln_b": ln_b, "target": target, "labels": labels,
            "softmax": s, "log_softmax": ls, "smooth_l1": l1, "l1": l2, "mse": l3, "cross_entropy": l4,
            "loss": loss, "grad.x": x.grad, "grad.w": w.grad, "grad.ln_w": ln_w.grad, "grad.ln_b": ln_b.grad}, None


def adamw(gen):
    """Three AdamW steps with weight decay on a matrix and none on a bias."""
    wgt = torch.randn(5, 4, generator=gen).requires_grad_()
    bias = torch.randn(4, generator=gen).requires_grad_()
    t = {"weight.0": wgt.detach().clone(), "bias.0": bias.detach().clone()}
    opt = torch.optim.AdamW([{"params": [wgt], "weight_decay": 0.05}, {"params": [bias], "weight_decay": 0.0}],
                            lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
    for step in range(3):
        gw = torch.randn(5, 4, generator=gen)
        gb = torch.randn(4, generator=gen)
        t["grad_weight.%d" % step], t["grad_bias.%d" % step] = gw, gb
        wgt.grad, bias.grad = gw.clone(), gb.clone()
        opt.step()
        t["weight.%d" % (step + 1)] = wgt.detach().clone()
        t["bias.%d" % (step + 1)] = bias.detach().clone()
    return t, {"lr": 1e-2, "weight_decay": 0.05}


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    for name, make in [("transformer_block", transformer_block), ("chains", chains), ("adamw", adamw)]:
        gen = torch.Generator().manual_seed(1234)
        tensors, meta = make(gen)
        save(os.path.join(OUT, name + ".safetensors"),
             {k: v.detach() if hasattr(v, "detach") else v for k, v in tensors.items()}, meta)
        print("wrote", name)


if __name__ == "__main__":
    main()
