#!/usr/bin/env python3
"""Regenerates the expected values in tests/unit/test_data.c (preprocessing).

Run with Debian's python3-torch: /usr/bin/python3 tests/reference/make_preprocess_reference.py
It applies the PyTorch peer's preprocessing (bilinear resize with antialias=True,
then BT.601 luma) to a fixed 6x5 RGB image and prints C arrays.
"""
import torch
import torch.nn.functional as F

H, W = 6, 5
# The fixed test image: pixel (y, x, c) = (37 * y + 23 * x + 91 * c + 11 * x * y) % 256.
img = torch.tensor([[[(37 * y + 23 * x + 91 * c + 11 * x * y) % 256 for c in range(3)] for x in range(W)]
                    for y in range(H)], dtype=torch.float32)
t = img.permute(2, 0, 1).unsqueeze(0) / 255.0


def emit(name, tensor):
    values = ", ".join(f"{v:.7f}f" for v in tensor.flatten().tolist())
    print(f"static const float {name}[] = {{{values}}};")


for oh, ow in ((4, 3), (9, 7)):
    r = F.interpolate(t, size=(oh, ow), mode="bilinear", align_corners=False, antialias=True)
    emit(f"rgb_{oh}x{ow}", r[0])
    gray = 0.299 * r[0, 0] + 0.587 * r[0, 1] + 0.114 * r[0, 2]
    emit(f"gray_{oh}x{ow}", gray)
