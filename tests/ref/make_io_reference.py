"""Reference files for tests/test_io.cpp, written by numpy, gzip and PyTorch.

Run with Debian's Python (it has torch and numpy):  /usr/bin/python3 tests/ref/make_io_reference.py
Writes tests/data/io/:
  gzip/          one input (plain.bin) and its compressions by gzip (level 9, with a file name,
                 two members, empty)
  npy/           arrays saved by numpy: each supported dtype, format versions 1.0/2.0/3.0, and the
                 layouts the reader must refuse (Fortran order, big-endian)
  resize/        torch.nn.functional.interpolate(bilinear, align_corners=False) inputs and outputs
  mixed.safetensors  F32/F64/F16/BF16/I64 tensors and metadata, assembled here byte by byte
  fashion_mnist_reference.json  label histograms, first labels, pixel sums (needs the Debian
                 package dataset-fashion-mnist)
"""
import gzip
import io
import json
import os
import struct

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "io")
FASHION_DIR = "/usr/share/datasets/fashion-mnist"


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def plain_input():
    """About 5 KB mixing text-like data, incompressible bytes and long runs."""
    rng = np.random.default_rng(7)
    letters = np.frombuffer(b"etaoinshrdlucmfwypvbgkqjxz", dtype=np.uint8)
    words = [letters[rng.integers(0, 26 if k % 3 else 8, rng.integers(1, 9))].tobytes() for k in range(80)]
    text = [words[min(int(rng.exponential(12)), len(words) - 1)] for _ in range(600)]
    noise = rng.integers(0, 256, 1000, dtype=np.uint8).tobytes()
    runs = b"\x00" * 600 + b"ab" * 200
    return b" ".join(text) + noise + runs


def make_gzip():
    d = os.path.join(ROOT, "gzip")
    data = plain_input()
    write(os.path.join(d, "plain.bin"), data)
    write(os.path.join(d, "level9.gz"), gzip.compress(data, compresslevel=9, mtime=0))
    named = io.BytesIO()
    with gzip.GzipFile(filename="plain.bin", mode="wb", fileobj=named, mtime=0) as f:  # sets FNAME
        f.write(data)
    write(os.path.join(d, "named.gz"), named.getvalue())
    # two members: decodes to data + data[:100]
    write(os.path.join(d, "two_members.gz"), gzip.compress(data, mtime=0) + gzip.compress(data[:100], mtime=0))
    write(os.path.join(d, "empty.gz"), gzip.compress(b"", mtime=0))


def make_npy():
    d = os.path.join(ROOT, "npy")
    os.makedirs(d, exist_ok=True)
    f4 = (np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5 - 1).astype(np.float32)
    np.save(os.path.join(d, "f4_2x3.npy"), f4)
    np.save(os.path.join(d, "f8_scalar.npy"), np.array(3.25, dtype=np.float64))
    np.save(os.path.join(d, "i8_4.npy"), np.array([-3, 0, 7, 2**40], dtype=np.int64))
    np.save(os.path.join(d, "u1_2x2x2.npy"), np.array([0, 1, 2, 3, 100, 200, 254, 255], dtype=np.uint8).reshape(2, 2, 2))
    np.save(os.path.join(d, "f4_empty_0x3.npy"), np.zeros((0, 3), dtype=np.float32))
    for version in [(2, 0), (3, 0)]:
        with open(os.path.join(d, f"f4_2x3_v{version[0]}.npy"), "wb") as f:
            np.lib.format.write_array(f, f4, version=version)
    np.save(os.path.join(d, "fortran_2x3.npy"), np.asfortranarray(f4))
    np.save(os.path.join(d, "big_endian_f4.npy"), f4.astype(">f4"))


def make_resize():
    d = os.path.join(ROOT, "resize")
    os.makedirs(d, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 7, 9, generator=g)
    np.save(os.path.join(d, "input.npy"), x.numpy())
    for h, w in [(5, 4), (16, 13), (7, 9), (1, 1), (3, 20)]:
        y = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
        np.save(os.path.join(d, f"out_{h}x{w}.npy"), y.numpy())
    # crop rows 1..5 and columns 2..7, then resize to 8x8
    y = torch.nn.functional.interpolate(x[:, :, 1:6, 2:8], size=(8, 8), mode="bilinear", align_corners=False)
    np.save(os.path.join(d, "crop_1_2_5_6_to_8x8.npy"), y.numpy())


def bf16_bits(a):
    """Round-to-nearest-even bfloat16 bits of float32 values (no NaNs here)."""
    u = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def make_safetensors():
    tensors = [
        ("weight", "F32", [2, 3], np.array([[1.5, -2, 0.25], [3, 4, -5]], dtype="<f4").tobytes()),
        ("bias", "F64", [3], np.array([0.1, 0.2, 0.3], dtype="<f8").tobytes()),
        ("half", "F16", [2], np.array([1.0, -0.5], dtype="<f2").tobytes()),
        ("brain", "BF16", [2], bf16_bits(np.array([1.0, 3.0], dtype=np.float32)).astype("<u2").tobytes()),
        ("steps", "I64", [], np.array(42, dtype="<i8").tobytes()),
    ]
    header, offset = {"__metadata__": {"format": "pt", "step": "7"}}, 0
    for name, dtype, shape, blob in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    write(os.path.join(ROOT, "mixed.safetensors"),
          struct.pack("<Q", len(encoded)) + encoded + b"".join(blob for *_, blob in tensors))


def read_idx_gz(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def make_fashion_mnist():
    if not os.path.isdir(FASHION_DIR):
        print(f"skipping the Fashion-MNIST reference: {FASHION_DIR} is missing "
              "(sudo apt-get install dataset-fashion-mnist)")
        return
    ref = {}
    for split, prefix in [("train", "train"), ("test", "t10k")]:
        images = read_idx_gz(os.path.join(FASHION_DIR, f"{prefix}-images-idx3-ubyte.gz"))
        labels = read_idx_gz(os.path.join(FASHION_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
        ref[split] = {
            "count": int(len(labels)),
            "label_histogram": np.bincount(labels, minlength=10).tolist(),
            "first_labels": labels[:20].tolist(),
            "first_pixel_sums": [int(images[i].astype(np.int64).sum()) for i in range(3)],
            "image0_row14": images[0, 14].tolist(),
            "last_pixel_sum": int(images[-1].astype(np.int64).sum()),
        }
    with open(os.path.join(ROOT, "fashion_mnist_reference.json"), "w") as f:
        json.dump(ref, f, indent=1)


if __name__ == "__main__":
    make_gzip()
    make_npy()
    make_resize()
    make_safetensors()
    make_fashion_mnist()
