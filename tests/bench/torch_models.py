#!/usr/bin/env python3
"""The Table 1 models in plain torch.nn, built like libdigitcnn's zoo, for
side-by-side training throughput (digitcnn-bench --model NAME runs this).

  /usr/bin/python3 tests/bench/torch_models.py --model resnet50 --batch 32 --threads 2 --steps 20

Models take 1x32x32 inputs and 10 classes, as in examples/table1:
LeNet-5 (tanh, average pooling), ResNet-50 v1.5, VGG-16 with batch norm and
512-unit dense layers, MobileNetV2 (width 1.0). Batch norm: eps 1e-3,
momentum 0.01 (Keras 0.99). Adam 1e-3. Needs Debian's python3-torch.
"""
import argparse, time
import torch, torch.nn as nn, torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--model", required=True, choices=["lenet5", "resnet50", "vgg16", "mobilenetv2"])
p.add_argument("--batch", type=int, default=32)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--steps", type=int, default=20)
a = p.parse_args()
torch.set_num_threads(a.threads); torch.manual_seed(1)

def bn(c): return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)

def lenet5():
    return nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
                         nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))

class Bottleneck(nn.Module):
    def __init__(self, cin, w, stride):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, w, 1, bias=False), bn(w), nn.ReLU(),
                                  nn.Conv2d(w, w, 3, stride, 1, bias=False), bn(w), nn.ReLU(),
                                  nn.Conv2d(w, 4 * w, 1, bias=False), bn(4 * w))
        self.short = (nn.Sequential(nn.Conv2d(cin, 4 * w, 1, stride, bias=False), bn(4 * w))
                      if stride != 1 or cin != 4 * w else nn.Identity())
    def forward(self, x): return F.relu(self.body(x) + self.short(x))

def resnet50():
    layers = [nn.Conv2d(1, 64, 7, 2, 3, bias=False), bn(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for s, (n, w) in enumerate(zip([3, 4, 6, 3], [64, 128, 256, 512])):
        for b in range(n):
            layers.append(Bottleneck(cin, w, 2 if b == 0 and s > 0 else 1)); cin = 4 * w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 10))

def vgg16():
    layers, cin = [], 1
    for c, n in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]:
        for _ in range(n): layers += [nn.Conv2d(cin, c, 3, padding=1, bias=False), bn(c), nn.ReLU()]; cin = c
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, 10))

class Inverted(nn.Module):
    def __init__(self, cin, cout, t, s):
        super().__init__()
        h = cin * t
        layers = [] if t == 1 else [nn.Conv2d(cin, h, 1, bias=False), bn(h), nn.ReLU6()]
        layers += [nn.Conv2d(h, h, 3, s, 1, groups=h, bias=False), bn(h), nn.ReLU6(), nn.Conv2d(h, cout, 1, bias=False), bn(cout)]
        self.body, self.res = nn.Sequential(*layers), s == 1 and cin == cout
    def forward(self, x): return x + self.body(x) if self.res else self.body(x)

def mobilenetv2():
    layers, cin = [nn.Conv2d(1, 32, 3, 2, 1, bias=False), bn(32), nn.ReLU6()], 32
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for b in range(n): layers.append(Inverted(cin, c, t, s if b == 0 else 1)); cin = c
    return nn.Sequential(*layers, nn.Conv2d(320, 1280, 1, bias=False), bn(1280), nn.ReLU6(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Dropout(0.2), nn.Linear(1280, 10))

model = {"lenet5": lenet5, "resnet50": resnet50, "vgg16": vgg16, "mobilenetv2": mobilenetv2}[a.model]()
opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
x = torch.rand(a.batch * 4, 1, 32, 32); y = torch.randint(0, 10, (a.batch * 4,))
model.train()
for s in range(a.steps + 3):
    if s == 3: t0 = time.perf_counter()
    i = (s % 4) * a.batch
    opt.zero_grad(); loss = F.cross_entropy(model(x[i:i + a.batch]), y[i:i + a.batch]); loss.backward(); opt.step()
dt = time.perf_counter() - t0
print(f"torch {torch.__version__} {a.model} train batch {a.batch} threads {a.threads}: "
      f"{1000 * dt / a.steps:.2f} ms/step {a.steps * a.batch / dt:.0f} samples/s")
