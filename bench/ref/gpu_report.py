#!/usr/bin/python3
"""Writes bench/RESULTS.md from scripts/gpu-check.sh's figures (JSON lines of bench_gpu,
bench/ref/train_step.py and bench/ref/gpu_ops.py) and its step outcomes, to stdout.
Ratios are ours over theirs for throughput (higher is better) and theirs over ours for time."""
import argparse
import datetime
import json


def fmt(x, digits=1):
    return "-" if x is None else f"{x:.{digits}f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--figures", required=True)
    parser.add_argument("--status", required=True)
    parser.add_argument("--gpu", required=True)
    parser.add_argument("--commit", required=True)
    parser.add_argument("--emulated", default="0")
    args = parser.parse_args()
    rows = []
    with open(args.figures) as f:
        rows = [json.loads(line) for line in f if line.strip().startswith("{")]
    with open(args.status) as f:
        status = [line.rstrip("\n") for line in f if line.strip()]

    out = ["# GPU results", ""]
    out.append(f"Measured {datetime.date.today().isoformat()} on {args.gpu}, commit {args.commit}, by "
               "`scripts/gpu-check.sh`" + (" --emulate (the plumbing check: tiny sizes, timings mean nothing)"
                                           if args.emulated == "1" else "") + ".")
    out += ["", "## Checks", ""] + [f"- {s}" for s in status]

    steps = [r for r in rows if r.get("bench") == "ijepa_step"]
    torch_steps = [r for r in rows if r.get("bench") == "train_step" and r.get("impl") == "pytorch"]
    if steps:
        out += ["", "## I-JEPA training step", "",
                "images/s (peak MiB); ratio = jepa-cpp / the PyTorch variant. Aim: >= 1.3x eager, >= 1.1x "
                "torch.compile, peak memory <= PyTorch's.", "",
                "| config | batch | jepa-cpp | official eager | SDPA | SDPA + fused AdamW | + torch.compile | "
                "vs best eager | vs compiled |", "|---|---|---|---|---|---|---|---|---|"]
        for s in steps:
            by_variant = {t["variant"]: t for t in torch_steps if t.get("config") == s["config"]}
            def cell(v):
                t = by_variant.get(v)
                return "-" if t is None else f"{fmt(t['images_per_s'])} ({fmt(t.get('peak_memory_mib'), 0)})"
            eager = [by_variant[v]["images_per_s"] for v in ("official", "sdpa", "sdpa_fused") if v in by_variant]
            compiled = by_variant.get("sdpa_fused_compile")
            out.append(f"| {s['config']} | {s['batch']} | {fmt(s['images_per_s'])} ({fmt(s.get('peak_memory_mib'), 0)}) | "
                       f"{cell('official')} | {cell('sdpa')} | {cell('sdpa_fused')} | {cell('sdpa_fused_compile')} | "
                       f"{fmt(ratio(s['images_per_s'], max(eager) if eager else None), 2)} | "
                       f"{fmt(ratio(s['images_per_s'], compiled['images_per_s'] if compiled else None), 2)} |")

    attention = [r for r in rows if r.get("bench") == "attention"]
    if attention:
        sdpa = {(r["dtype"], r["B"], r["H"], r["N"], r["D"]): r for r in rows if r.get("bench") == "torch_attention"}
        out += ["", "## Fused attention", "", "milliseconds; ratio = SDPA time / ours. Aim: >= 1.",
                "", "| dtype | B, H, N, D | ours fwd | SDPA fwd | ratio | ours fwd+bwd | SDPA fwd+bwd | ratio |",
                "|---|---|---|---|---|---|---|---|"]
        for a in attention:
            t = sdpa.get((a["dtype"], a["B"], a["H"], a["N"], a["D"]), {})
            out.append(f"| {a['dtype']} | {a['B']}, {a['H']}, {a['N']}, {a['D']} | {fmt(a['fused_fwd_ms'], 3)} | "
                       f"{fmt(t.get('sdpa_fwd_ms'), 3)} | {fmt(ratio(t.get('sdpa_fwd_ms'), a['fused_fwd_ms']), 2)} | "
                       f"{fmt(a['fused_fwd_bwd_ms'], 3)} | {fmt(t.get('sdpa_fwd_bwd_ms'), 3)} | "
                       f"{fmt(ratio(t.get('sdpa_fwd_bwd_ms'), a['fused_fwd_bwd_ms']), 2)} |")

    gemm = [r for r in rows if r.get("bench") == "gemm"]
    if gemm:
        torch_gemm = {(r["mode"], r["M"], r["N"], r["K"]): r for r in rows if r.get("bench") == "torch_gemm"}
        out += ["", "## GEMM", "", "TFLOP/s; `own` is the tiled kernel, the others our call of the vendor BLAS; "
                "torch.matmul on the same shape and mode beside it.", "",
                "| M, N, K | mode | ours | torch.matmul |", "|---|---|---|---|"]
        for g in gemm:
            mode = g["mode"].replace("own ", "")
            t = torch_gemm.get((mode, g["M"], g["N"], g["K"]), {})
            out.append(f"| {g['M']}, {g['N']}, {g['K']} | {g['mode']} | {fmt(g['tflops'], 2)} | {fmt(t.get('tflops'), 2)} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
