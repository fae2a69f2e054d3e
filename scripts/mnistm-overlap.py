#!/usr/bin/python3
"""Do MNIST-M's test images use the training images' photographs?

MNIST-M draws each digit over a patch cut from a colour photograph; MNIST
digits keep off the border, so the 4-pixel border ring of every image is the
patch itself, pixel for pixel. Two patches cut from overlapping places of one
photograph therefore share exact 4 x 4 blocks of their rings. This script
hashes every textured 4 x 4 RGB block of every ring (mean per-channel standard
deviation above 6, so flat sky or black does not match by chance), pairs the
images that share a block, checks a sample of the pairs pixel by pixel at
the shift their shared block gives, and prints how many training and test images have a training
partner. Test labels are never read.

The blocks lie at fixed places of the ring (top rows 0 and 28, left columns
0 and 28), so only some relative placements of two patches can match: the
counts are lower bounds on the overlap.

Usage: scripts/mnistm-overlap.py [DATA_DIR]   (default data/mnist_m; needs
Debian's python3-numpy and python3-pil; under a minute and about 700 MB)
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


def ring_positions(side):
    # top-left (y, x) of every 4 x 4 block lying inside the border ring, in ring_blocks' order
    last = side - RING
    positions = []
    for x in range(0, last + 1):
        positions += [(0, x), (last, x)]
    for y in range(1, last):  # rows 0 and `last` are in the lists above
        positions += [(y, 0), (y, last)]
    return positions


def ring_blocks(images, positions):
    # (N, blocks, 48) uint8: the blocks at `positions`
    out = [images[:, y:y + RING, x:x + RING] for y, x in positions]
    return np.stack(out, 1).reshape(images.shape[0], len(positions), RING * RING * 3)


def block_hashes(images, weights, positions, chunk=2048):
    # h: (N, blocks) uint64 hash (sums wrap modulo 2^64, as unsigned numbers do); textured: (N, blocks) bool.
    # In chunks of images: the whole training set at once would need several GB.
    hashes, textured = [], []
    for start in range(0, len(images), chunk):
        blocks = ring_blocks(images[start:start + chunk], positions)
        spread = blocks.reshape(*blocks.shape[:2], RING * RING, 3).astype(np.float32).std(2).mean(-1)
        hashes.append((blocks.astype(np.uint64) * weights).sum(-1, dtype=np.uint64))
        textured.append(spread > TEXTURE)
    return np.concatenate(hashes), np.concatenate(textured)


def shared_block_pairs(train, test):
    # {(image a, image b): (block position in a, block position in b)} for images sharing a
    # textured ring block (test images numbered after the training images; a < b)
    positions = ring_positions(train.shape[1])
    weights = np.random.default_rng(0).integers(1, 2**62, size=RING * RING * 3, dtype=np.int64).astype(np.uint64) | 1
    keys, owners, places = [], [], []
    for offset, images in ((0, train), (len(train), test)):
        h, textured = block_hashes(images, weights, positions)
        rows, cols = np.nonzero(textured)
        keys.append(h[rows, cols])
        owners.append(rows + offset)
        places.append(cols)
    keys, owners, places = np.concatenate(keys), np.concatenate(owners), np.concatenate(places)
    order = np.argsort(keys, kind="stable")
    keys, owners, places = keys[order], owners[order], places[order]
    starts = np.r_[0, np.nonzero(np.diff(keys))[0] + 1]
    ends = np.r_[starts[1:], len(keys)]
    pairs = {}
    for s, e in zip(starts[ends - starts > 1], ends[ends - starts > 1]):
        ids, first = np.unique(owners[s:e], return_index=True)
        if 2 <= len(ids) <= CROWD:
            where = places[s:e][first]
            for i in range(len(ids)):
                for j in range(i + 1, len(ids)):
                    pairs.setdefault((int(ids[i]), int(ids[j])), (positions[where[i]], positions[where[j]]))
    return pairs


def equal_at_shift(a, b, place_a, place_b):
    # (fraction of equal pixels, count) over the ring pixels both images have once b is laid on a
    # so that their matched blocks coincide: b[y, x] = a[y + dy, x + dx]
    side = a.shape[0]
    dy, dx = place_a[0] - place_b[0], place_a[1] - place_b[1]
    ring = np.ones((side, side), bool)
    ring[RING:side - RING, RING:side - RING] = False
    y0, y1, x0, x1 = max(0, dy), min(side, side + dy), max(0, dx), min(side, side + dx)
    both = ring[y0:y1, x0:x1] & ring[y0 - dy:y1 - dy, x0 - dx:x1 - dx]
    same = (a[y0:y1, x0:x1][both] == b[y0 - dy:y1 - dy, x0 - dx:x1 - dx][both]).all(-1)
    return float(same.mean()), int(both.sum())


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "data/mnist_m"
    train, test = load(root, "train"), load(root, "test")
    n = len(train)
    pairs = shared_block_pairs(train, test)
    train_train = [(a, b, places) for (a, b), places in pairs.items() if b < n]
    test_train = [(b - n, a, (places[1], places[0])) for (a, b), places in pairs.items() if a < n <= b]
    with_train = np.zeros(n, bool)
    for a, b, _ in train_train:
        with_train[a] = with_train[b] = True
    test_with_train = np.zeros(len(test), bool)
    for t, _, _ in test_train:
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
        checked = [equal_at_shift(first[sample[i][0]], train[sample[i][1]], *sample[i][2]) for i in picks]
        same = np.array([c[0] for c in checked])
        shared = np.array([c[1] for c in checked])
        print(f"{name} pairs checked pixel by pixel at the shift their matched block gives: {len(same)}, "
              f"with at least 95% of the shared ring pixels equal: {(same >= 0.95).sum()} "
              f"(shared ring pixels: median {int(np.median(shared))}, fewest {int(shared.min())})")


if __name__ == "__main__":
    main()
