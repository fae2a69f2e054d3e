#!/usr/bin/python3
"""Sums a `digitcnn-bench --profile` training profile by layer kind.

    scripts/profile-by-kind.py BEFORE.txt [AFTER.txt]

Reads the first training profile in each file (the table that follows
"profile of N training steps"; a block's inner layers count as their own
kinds) and prints a Markdown table: for each layer
type (convolutions also by algorithm), the milliseconds per step of its
forward and backward passes summed over the layers of that kind, and its
share of the step; with two files, before and after side by side. Everything
that is not a layer (loss, optimizer) keeps its own row.
"""
import re
import sys


def read_profile(path):
    rows, total, in_table = [], None, False  # rows: (layer, kind, slot, ms)
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("profile of") and "training steps" in line:
                in_table = True
                continue
            if not in_table:
                continue
            fields = line.split()
            if not fields or fields[0] == "layer":
                continue
            if fields[0] == "total":
                total = float(fields[4])
                break
            if fields[0] == "-":  # loss, optimizer: - name - calls ms/call ...
                rows.append((fields[1], fields[1], 0, float(fields[4])))
                continue
            match = re.fullmatch(r"(\d+)(\.\w+)?", fields[0])
            if not match:
                continue  # bwd-data / bwd-weight sub-rows: already in backward
            kind = fields[1]
            if kind == "conv2d" and len(fields) >= 9:
                kind = "conv2d " + fields[8]
            rows.append((fields[0], kind, 0 if fields[2] == "forward" else 1, float(fields[4])))
    if total is None:
        sys.exit(f"profile-by-kind: no training profile in {path}")
    # A block (residual) whose inner layers have rows of their own counts through them.
    inner = {layer.split(".")[0] for layer, _, _, _ in rows if "." in layer}
    kinds = {}
    for layer, kind, slot, ms in rows:
        if layer in inner:
            continue
        kinds.setdefault(kind, [0.0, 0.0])[slot] += ms
    return kinds, total


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.strip().splitlines()[2].strip())
    profiles = [read_profile(p) for p in sys.argv[1:]]
    names = sorted({k for kinds, _ in profiles for k in kinds},
                   key=lambda k: -max(sum(kinds.get(k, [0, 0])) for kinds, _ in profiles))
    head = "| kind |" + "".join(" forward ms | backward ms | share |" for _ in profiles)
    print(head)
    print("|---|" + "---|---|---|" * len(profiles))
    for name in names:
        row = f"| {name} |"
        for kinds, total in profiles:
            fwd, bwd = kinds.get(name, [0.0, 0.0])
            row += f" {fwd:.2f} | {bwd:.2f} | {100 * (fwd + bwd) / total:.1f}% |" if name in kinds else " | | |"
        print(row)
    print("| **step** |" + "".join(f" **{total:.2f}** | | |" for _, total in profiles))


if __name__ == "__main__":
    main()
