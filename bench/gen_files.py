#!/usr/bin/env python3
"""Generates or changes the benchmark's file tree.

  gen_files.py make DIR MB     about MB megabytes: half text (word salad,
                               compressible like logs and docs), half
                               already-compressed files (.gz of text, and
                               random bytes standing in for images/archives)
  gen_files.py change DIR PCT  rewrites PCT percent of the files (every
                               100/PCT-th file, sorted by path): a text file
                               gets lines appended and one edited, a binary
                               file gets a 4 KiB block overwritten
Deterministic (fixed seeds), so both tools see the same data.
"""
import gzip
import os
import random
import sys


def words(rng, n):
    vocab = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
        for _ in range(4000)
    ]
    return vocab


def text_block(rng, vocab, size):
    out = []
    total = 0
    while total < size:
        line = " ".join(rng.choice(vocab) for _ in range(rng.randint(4, 16)))
        line = f"{rng.randint(0, 10**9):010d} {line}\n"
        out.append(line)
        total += len(line)
    return "".join(out).encode()[:size]


def make(root, mb):
    rng = random.Random(42)
    vocab = words(rng, 4000)
    target = mb * 1024 * 1024
    half = target // 2
    made = 0
    i = 0
    # Text: 2,000-ish files between 16 KiB and 512 KiB in 40 directories.
    while made < half:
        size = rng.randint(16 * 1024, 512 * 1024)
        d = os.path.join(root, "text", f"d{i % 40:02d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"doc{i:05d}.txt"), "wb") as f:
            f.write(text_block(rng, vocab, size))
        made += size
        i += 1
    # Already compressed: gzip'd text and random bytes, 256 KiB to 16 MiB.
    j = 0
    while made < target:
        d = os.path.join(root, "blobs", f"d{j % 10:02d}")
        os.makedirs(d, exist_ok=True)
        if j % 3 == 0:
            data = gzip.compress(text_block(rng, vocab, rng.randint(1, 24) * 1024 * 1024), 6)
            name = f"log{j:04d}.txt.gz"
        else:
            data = rng.randbytes(rng.randint(256 * 1024, 16 * 1024 * 1024))
            name = f"img{j:04d}.bin"
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        made += len(data)
        j += 1
    print(f"{i + j} files, {made} bytes")


def change(root, pct):
    rng = random.Random(7)
    vocab = words(rng, 4000)
    files = sorted(
        os.path.join(dp, f) for dp, _, fs in os.walk(root) for f in fs
    )
    step = max(1, round(100 / pct))
    changed = 0
    for n, p in enumerate(files):
        if n % step:
            continue
        size = os.path.getsize(p)
        if p.endswith(".txt"):
            with open(p, "r+b") as f:
                f.seek(size // 2)
                f.write(text_block(rng, vocab, 64))
            with open(p, "ab") as f:
                f.write(text_block(rng, vocab, 4096))
        else:
            with open(p, "r+b") as f:
                f.seek(rng.randrange(0, max(1, size - 4096)))
                f.write(rng.randbytes(4096))
        changed += 1
    print(f"{changed} of {len(files)} files changed")


if __name__ == "__main__":
    cmd, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    {"make": make, "change": change}[cmd](root, n)
