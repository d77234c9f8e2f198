#!/usr/bin/env python3
"""PyTorch eager baseline for `arat bench train --compare-torch`.

Implements the same training steps as arat's trainer (dev.arat.trainer.Objective + Sgd), on the
same architectures (dev.arat.specs.Architectures), on synthetic data:

  plain step : forward (BN train mode) + mean CE + backward + SGD(momentum, weight decay)
  PGD-AT step: PGD-K Linf attack on the same network in train mode (BN batch statistics, running
               statistics updated), weights frozen, uniform random start, sign steps, projection
               onto the eps-ball and [0,1]; then the plain step on the adversarial batch.

The network normalises its input inside ((x - mean) / std), as arat's does. Timings are wall clock
seconds per step after warm-up.

Two modes:
  default : runs --iterations rounds of both steps (interleaved) and prints one JSON object on
            stdout with the raw samples.
  --serve : what `arat bench train --compare-torch` uses. After set-up and warm-up prints one JSON
            line {"ready": true, ...environment}, then reads commands from stdin, one per line:
            "plain" or "pgd_at" runs one step and prints {"step": ..., "seconds": ...,
            "attack_seconds": ...}; end of input exits. The Java side interleaves these steps with
            its own, so both see the same machine load (paired ratios per round).

Run with Debian's interpreter: /usr/bin/python3 bench/torch_train_step.py --model resnet18 ...
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    """Post-activation CIFAR BasicBlock: conv-bn-relu-conv-bn + (1x1 conv-bn) shortcut, relu."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """The standard CIFAR ResNet-18: 3x3 stem conv-bn-relu, [2,2,2,2] BasicBlocks 64..512, GAP,
    Linear(512, K). 11,173,962 parameters for 3 channels / 10 classes."""

    def __init__(self, channels, classes, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.full((1, channels, 1, 1), mean))
        self.register_buffer("std", torch.full((1, channels, 1, 1), std))
        self.conv1 = nn.Conv2d(channels, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, cin = [], 64
        for i, cout in enumerate([64, 128, 256, 512]):
            blocks = []
            for b in range(2):
                stride = 2 if i > 0 and b == 0 else 1
                blocks.append(BasicBlock(cin, cout, stride))
                cin = cout
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.linear = nn.Linear(512, classes)

    def forward(self, x):
        x = (x - self.mean) / self.std
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


class SmallCnn(nn.Module):
    """arat's small-cnn: 2x (5x5 conv 32/64 no bias, BN, ReLU, maxpool 2), fc 256, ReLU, fc K."""

    def __init__(self, channels, height, width, classes, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.full((1, channels, 1, 1), mean))
        self.register_buffer("std", torch.full((1, channels, 1, 1), std))
        self.conv1 = nn.Conv2d(channels, 32, 5, 1, 2, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 5, 1, 2, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * (height // 4) * (width // 4), 256)
        self.fc2 = nn.Linear(256, classes)

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def pgd(model, x, y, eps, alpha, steps):
    """Linf PGD, random start, on the model as it is (train mode), weights frozen."""
    params = [p for p in model.parameters()]
    for p in params:
        p.requires_grad_(False)
    lo = (x - eps).clamp(min=0)
    hi = (x + eps).clamp(max=1)
    cur = torch.max(torch.min(x + torch.empty_like(x).uniform_(-eps, eps), hi), lo)
    for _ in range(steps):
        xs = cur.detach().requires_grad_(True)
        loss = F.cross_entropy(model(xs), y, reduction="sum")
        (g,) = torch.autograd.grad(loss, xs)
        cur = torch.max(torch.min(cur + alpha * g.sign(), hi), lo)
    for p in params:
        p.requires_grad_(True)
    return cur.detach()


def train_step(model, opt, x, y):
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss


def malloc_in_use():
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return "unknown"
    if "tcmalloc" in maps:
        return "tcmalloc"
    if "jemalloc" in maps:
        return "jemalloc"
    return "glibc"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet18", choices=["resnet18", "small-cnn"])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--height", type=int, default=32)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--pgd-steps", type=int, default=10)
    ap.add_argument("--epsilon", type=float, default=8 / 255)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: torch default)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--serve", action="store_true",
                    help="answer step commands from stdin (see the module docstring)")
    a = ap.parse_args()

    if a.threads > 0:
        torch.set_num_threads(a.threads)
        try:
            torch.set_num_interop_threads(a.threads)
        except RuntimeError:
            pass
    torch.manual_seed(a.seed)
    if a.model == "resnet18":
        model = ResNet18(a.channels, a.classes, 0.5, 0.25)
    else:
        model = SmallCnn(a.channels, a.height, a.width, a.classes, 0.5, 0.25)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.rand(a.batch, a.channels, a.height, a.width)
    y = torch.randint(0, a.classes, (a.batch,))
    eps, alpha = a.epsilon, a.epsilon / 4

    def plain():
        train_step(model, opt, x, y)

    attack_times = []

    def pgd_at():
        t0 = time.perf_counter()
        adv = pgd(model, x, y, eps, alpha, a.pgd_steps)
        attack_times.append(time.perf_counter() - t0)
        train_step(model, opt, adv, y)

    for _ in range(a.warmup):
        plain()
        pgd_at()
    attack_times.clear()

    info = {
        "torch_version": torch.__version__,
        "python": sys.executable,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "malloc": malloc_in_use(),
        "ld_preload": os.environ.get("LD_PRELOAD", ""),
        "model": a.model,
        "parameters": sum(p.numel() for p in model.parameters()),
        "batch": a.batch,
        "pgd_steps": a.pgd_steps,
    }
    if a.serve:
        serve(info, {"plain": plain, "pgd_at": pgd_at}, attack_times)
        return
    samples = {"plain_step": [], "pgd_at_step": []}
    for i in range(a.iterations):
        order = [("plain_step", plain), ("pgd_at_step", pgd_at)]
        if i % 2:
            order.reverse()
        for name, fn in order:
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
        print("torch round %d/%d: plain %.3fs  pgd-at %.3fs" % (
            i + 1, a.iterations, samples["plain_step"][-1], samples["pgd_at_step"][-1]),
            file=sys.stderr, flush=True)

    out = dict(info)
    out["samples"] = samples
    out["pgd_at_attack"] = attack_times
    print(json.dumps(out))


def serve(info, steps, attack_times):
    """The --serve loop: one JSON line per command read from stdin."""
    print(json.dumps(dict(info, ready=True)), flush=True)
    for line in sys.stdin:
        name = line.strip()
        if not name:
            continue
        if name not in steps:
            print(json.dumps({"error": "unknown step '%s'" % name}), flush=True)
            continue
        attack_times.clear()
        t0 = time.perf_counter()
        steps[name]()
        seconds = time.perf_counter() - t0
        print(json.dumps({"step": name, "seconds": seconds,
                          "attack_seconds": attack_times[0] if attack_times else 0.0}), flush=True)


if __name__ == "__main__":
    main()
