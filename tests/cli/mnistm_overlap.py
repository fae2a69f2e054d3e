#!/usr/bin/python3
"""scripts/mnistm-overlap.py on hand-made MNIST-M-like sets: training and test
patches cut from one textured photograph pair up; test patches from a
photograph training never used, or from flat ones, find no partner; a missing
labels file fails. Skips (77) without numpy or PIL.

    mnistm_overlap.py SCRIPT WORKDIR
"""
import os
import re
import subprocess
import sys

try:
    import numpy as np
    from PIL import Image
except ImportError:
    print("numpy or PIL missing: skipped")
    sys.exit(77)


def write_split(root, split, patches):
    os.makedirs(os.path.join(root, f"mnist_m_{split}"), exist_ok=True)
    with open(os.path.join(root, f"mnist_m_{split}_labels.txt"), "w") as labels:
        for i, patch in enumerate(patches):
            image = patch.copy()
            image[10:22, 13:19] = 255 - image[10:22, 13:19]  # a "digit" drawn as MNIST-M does: |b - 255|
            name = f"{i:08d}.png"
            Image.fromarray(image).save(os.path.join(root, f"mnist_m_{split}", name))
            labels.write(f"{name} {i % 10}\n")


def cut(rng, photo, count):
    # count 32 x 32 patches at random places of photo (H, W, 3)
    h, w = photo.shape[:2]
    ys, xs = rng.integers(0, h - 31, count), rng.integers(0, w - 31, count)
    return [photo[y:y + 32, x:x + 32] for y, x in zip(ys, xs)]


def run(script, root):
    done = subprocess.run([sys.executable, script, root], capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout + done.stderr


def share(output, who):
    # the percentage printed for "training images ..." or "test images ..."
    found = re.search(rf"^{who} images sharing a ring block with [a-z ]+: (\d+) \(([\d.]+)%\)", output, re.M)
    assert found, f"no '{who}' line in:\n{output}"
    return int(found.group(1)), float(found.group(2))


def main():
    script, work = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(7)
    seen = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)      # the training photograph
    unseen = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)    # one no training patch comes from
    flat = np.full((96, 96, 3), 90, np.uint8)

    # Test patches: 20 from the training photograph, 20 from another one.
    root = os.path.join(work, "mixed")
    write_split(root, "train", cut(rng, seen, 80))
    write_split(root, "test", cut(rng, seen, 20) + cut(rng, unseen, 20))
    rc, output = run(script, root)
    assert rc == 0, output
    train_count, train_share = share(output, "training")
    test_count, _ = share(output, "test")
    assert train_share > 90, output            # 80 patches of one 96 x 96 photograph overlap densely
    assert 15 <= test_count <= 20, output      # only the seen photograph's patches find a partner
    assert "test-training pairs checked pixel by pixel" in output, output
    checked = re.search(r"test-training pairs checked pixel by pixel at [a-z ]+: (\d+), [a-z0-9% ]+: (\d+)", output)
    assert checked and checked.group(1) == checked.group(2), output  # every matched pair is a true overlap

    # A test set wholly from an unseen photograph, and flat backgrounds everywhere: no partners.
    for name, train_photo, test_photo in (("unseen", seen, unseen), ("flat", flat, flat)):
        root = os.path.join(work, name)
        write_split(root, "train", cut(rng, train_photo, 30))  # 30 + 20 images: flat blocks stay under CROWD
        write_split(root, "test", cut(rng, test_photo, 20))
        rc, output = run(script, root)
        assert rc == 0, output
        assert share(output, "test")[0] == 0, output
        if name == "flat":
            assert share(output, "training")[0] == 0, output  # flat blocks are not evidence

    # No labels file: a failure, not a figure.
    os.remove(os.path.join(work, "flat", "mnist_m_test_labels.txt"))
    rc, output = run(script, os.path.join(work, "flat"))
    assert rc != 0 and "mnist_m_test_labels.txt" in output, output
    print("ok")


if __name__ == "__main__":
    main()
