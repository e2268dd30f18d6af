#!/usr/bin/env python3
"""Generate the benchmark trees deterministically.

large DIR: 8 files of 128 MiB of random bytes (1 GiB).
small DIR: 20,000 files of 1-64 KiB of random bytes in 200 folders.
mixed DIR: a realistic ~1 GiB tree for archives: 10,000 text-like files of
           1-64 KiB (compressible, like source and documents) and 6 files of
           100 MiB (half random, half text, like databases and media).
half DIR:  the same kind of tree at 0.5 GiB: 4,000 files of 1-64 KiB in
           docs/ and 4 files of 100 MiB in big/ (issue 17's restic case;
           docs/ alone is the 4,000 small files hashed against sha256sum).
"""
import os, random, sys

def words(rng, n):
    vocab = [("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))) for _ in range(5000)]
    out = []
    size = 0
    while size < n:
        line = " ".join(rng.choice(vocab) for _ in range(rng.randint(4, 14))) + "\n"
        out.append(line)
        size += len(line)
    return "".join(out).encode()[:n]

def large(d):
    rng = random.Random(1)
    os.makedirs(d, exist_ok=True)
    for i in range(8):
        with open(os.path.join(d, f"big{i}.bin"), "wb") as f:
            for _ in range(128):
                f.write(rng.randbytes(1 << 20))

def small(d):
    rng = random.Random(2)
    for i in range(20000):
        sub = os.path.join(d, f"dir{i % 200:03d}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"f{i:05d}.dat"), "wb") as f:
            f.write(rng.randbytes(rng.randint(1024, 65536)))

def mixed(d, seed=3, files=10000, blobs=6):
    rng = random.Random(seed)
    text = words(rng, 8 << 20)
    for i in range(files):
        sub = os.path.join(d, "docs", f"d{i % 100:02d}")
        os.makedirs(sub, exist_ok=True)
        n = rng.randint(1024, 65536)
        off = rng.randint(0, len(text) - n)
        with open(os.path.join(sub, f"file{i:05d}.txt"), "wb") as f:
            f.write(text[off:off + n])
    os.makedirs(os.path.join(d, "big"), exist_ok=True)
    for i in range(blobs):
        with open(os.path.join(d, "big", f"blob{i}.bin"), "wb") as f:
            for j in range(100):
                if j % 2:
                    f.write(rng.randbytes(1 << 20))
                else:
                    off = rng.randint(0, len(text) - (1 << 20))
                    f.write(text[off:off + (1 << 20)])

def half(d):
    mixed(d, seed=4, files=4000, blobs=4)

def million(d):
    # A million small files in 1,000 directories: the scale test of a
    # restic drill's memory (scripts/million.sh).
    for i in range(1000):
        sub = os.path.join(d, f"d{i:04d}")
        os.makedirs(sub, exist_ok=True)
        for j in range(1000):
            with open(os.path.join(sub, f"f{j:04d}.txt"), "w") as f:
                f.write(f"file {i}/{j}\n")

if __name__ == "__main__":
    {"large": large, "small": small, "mixed": mixed, "half": half, "million": million}[sys.argv[1]](sys.argv[2])
