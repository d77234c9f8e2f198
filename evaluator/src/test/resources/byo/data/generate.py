#!/usr/bin/python3
"""Regenerates the user-style test sets next to this script, read by the CLI's ByoEndToEndTest.

Needs numpy only (no torch, no PIL) and Fashion-MNIST's IDX files (apt-get install dataset-fashion-mnist):

    /usr/bin/python3 evaluator/src/test/resources/byo/data/generate.py [--data DIR]

Writes the first 32 images of Fashion-MNIST's test split twice, as users bring their data:

    x.npy, y.npy      uint8 (32,28,28,1) channels-last images and int64 (32) labels
    pngs/<label>/<test index>.png
                      the same images as 8-bit grey 28x28 PNGs in one folder per class

The byo model fixtures (../generate.py) were trained on Fashion-MNIST, so they classify most of
these correctly and a small Linf budget breaks some: both verdicts occur, which is what makes the
comparison of every export with the reference meaningful.
"""
import argparse
import gzip
import os

import struct
import zlib

import numpy as np

N = 32


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def png_grey(path, img):
    """Writes a 2-D uint8 array as an 8-bit greyscale PNG (colour type 0, no filter)."""
    h, w = img.shape
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = ap.parse_args()
    x = idx(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"))[:N]
    y = idx(os.path.join(args.data, "t10k-labels-idx1-ubyte.gz"))[:N]
    np.save(os.path.join(here, "x.npy"), x.reshape(N, 28, 28, 1))
    np.save(os.path.join(here, "y.npy"), y.astype(np.int64))
    for i in range(N):
        folder = os.path.join(here, "pngs", str(int(y[i])))
        os.makedirs(folder, exist_ok=True)
        png_grey(os.path.join(folder, "%04d.png" % i), x[i])
    print("wrote", N, "images to", here)


if __name__ == "__main__":
    main()
