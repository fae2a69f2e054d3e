#!/usr/bin/python3
"""Do MNIST-M's test images use the training images' photographs?

MNIST-M draws each digit over a patch cut from a colour photograph; MNIST
digits keep off the border, so the 4-pixel border ring of every image is the
patch itself, pixel for pixel. Two patches cut from overlapping places of one
photograph therefore share exact 4 x 4 blocks of their rings. This script
hashes every textured 4 x 4 RGB block of every ring (mean per-channel standard
deviation above 6, so flat sky or black does not match by chance), pairs the
images that share a block, checks a sample of pairs pixel by pixel at their
best shift, and prints how many training and test images have a training
partner. Test labels are never read.

Usage: scripts/mnistm-overlap.py [DATA_DIR]   (default data/mnist_m; needs
Debian's python3-numpy and python3-pil; about a minute and 300 MB)
"""
import os
import sys

import numpy as np
from PIL import Image

RING = 4        # pixels of border that are background in every MNIST-M image
TEXTURE = 6.0   # minimum mean per-channel standard deviation of a hashed block
CROWD = 50      # blocks shared by more images than this are not evidence


def load(root, split):
    # (N, 32, 32, 3) uint8, in the labels file's order
    with open(os.path.join(root, f"mnist_m_{split}_labels.txt")) as f:
        names = [line.split()[0] for line in f if line.strip()]
    return np.stack([np.asarray(Image.open(os.path.join(root, f"mnist_m_{split}", n)).convert("RGB"))
                     for n in names])


def ring_blocks(images):
    # (N, blocks, 48): every 4 x 4 block lying inside the border ring
    side = images.shape[1]
    last = side - RING
    out = []
    for x in range(0, last + 1):
        out += [images[:, 0:RING, x:x + RING], images[:, last:side, x:x + RING]]
    for y in range(RING, last - RING + 1):
        out += [images[:, y:y + RING, 0:RING], images[:, y:y + RING, last:side]]
    return np.stack(out, 1).reshape(images.shape[0], len(out), RING * RING * 3)


def block_hashes(images, weights):
    # h: (N, blocks) int64 hash; textured: (N, blocks) bool
    blocks = ring_blocks(images)
    spread = blocks.reshape(*blocks.shape[:2], RING * RING, 3).astype(np.float32).std(2).mean(-1)
    return (blocks.astype(np.int64) * weights).sum(-1), spread > TEXTURE


def shared_block_pairs(train, test):
    weights = np.random.default_rng(0).integers(1, 2**62, size=RING * RING * 3, dtype=np.int64) | 1
    keys, owners = [], []
    for offset, images in ((0, train), (len(train), test)):
        h, textured = block_hashes(images, weights)
        rows, cols = np.nonzero(textured)
        keys.append(h[rows, cols])
        owners.append(rows + offset)
    keys, owners = np.concatenate(keys), np.concatenate(owners)
    order = np.argsort(keys, kind="stable")
    keys, owners = keys[order], owners[order]
    starts = np.r_[0, np.nonzero(np.diff(keys))[0] + 1]
    ends = np.r_[starts[1:], len(keys)]
    pairs = set()
    for s, e in zip(starts[ends - starts > 1], ends[ends - starts > 1]):
        ids = np.unique(owners[s:e])
        if 2 <= len(ids) <= CROWD:
            pairs.update((int(a), int(b)) for i, a in enumerate(ids) for b in ids[i + 1:])
    return pairs


def equal_at_best_shift(a, b):
    # fraction of the ring pixels both images have at the shift where most agree
    side = a.shape[0]
    ring = np.ones((side, side), bool)
    ring[RING:side - RING, RING:side - RING] = False
    best = 0.0
    for dy in range(-side + RING, side - RING + 1):
        for dx in range(-side + RING, side - RING + 1):
            y0, y1, x0, x1 = max(0, dy), min(side, side + dy), max(0, dx), min(side, side + dx)
            both = ring[y0:y1, x0:x1] & ring[y0 - dy:y1 - dy, x0 - dx:x1 - dx]
            if both.sum() >= 24:
                same = (a[y0:y1, x0:x1][both] == b[y0 - dy:y1 - dy, x0 - dx:x1 - dx][both]).all(-1).mean()
                best = max(best, float(same))
    return best


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "data/mnist_m"
    train, test = load(root, "train"), load(root, "test")
    n = len(train)
    pairs = shared_block_pairs(train, test)
    train_train = [(a, b) for a, b in pairs if b < n]
    test_train = [(b - n, a) for a, b in pairs if a < n <= b]
    with_train = np.zeros(n, bool)
    for a, b in train_train:
        with_train[a] = with_train[b] = True
    test_with_train = np.zeros(len(test), bool)
    for t, _ in test_train:
        test_with_train[t] = True
    print(f"{n} training and {len(test)} test images, {RING}-pixel border rings")
    print(f"training images sharing a ring block with another training image: {with_train.sum()} "
          f"({100 * with_train.mean():.1f}%), {len(train_train)} pairs, "
          f"{2 * len(train_train) / n:.2f} partners an image")
    print(f"test images sharing a ring block with a training image: {test_with_train.sum()} "
          f"({100 * test_with_train.mean():.1f}%), {len(test_train)} pairs, "
          f"{len(test_train) / len(test):.2f} training partners an image")
    rng = np.random.default_rng(1)
    for name, sample, first in (("training-training", train_train, train), ("test-training", test_train, test)):
        if not sample:
            continue
        picks = rng.choice(len(sample), min(40, len(sample)), replace=False)
        same = np.array([equal_at_best_shift(first[sample[i][0]], train[sample[i][1]]) for i in picks])
        print(f"{name} pairs checked pixel by pixel: {len(same)}, with at least 95% of the shared ring "
              f"pixels equal at their best shift: {(same >= 0.95).sum()}")


if __name__ == "__main__":
    main()
