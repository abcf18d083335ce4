"""One core's matrix-multiply rate at the shapes of a 256-256 update (README, "Why TD3 stays at
~1.5× SB3"): the peers' Python (`~/.cache/virel-lab/peers/bin/python scripts/gemm_rate.py`) on an idle machine."""
import time

import torch

torch.set_num_threads(1)


def rate(f, flops, reps=400):
    for _ in range(20):
        f()
    t = time.perf_counter()
    for _ in range(reps):
        f()
    dt = (time.perf_counter() - t) / reps
    return flops / dt / 1e9, dt * 1e6


for m, k, n in [(256, 256, 256), (256, 14, 256), (256, 256, 1), (256, 256, 3), (1024, 256, 256)]:
    a, b = torch.randn(m, k), torch.randn(k, n)
    g, us = rate(lambda: a @ b, 2 * m * k * n)
    print(f"matmul {m}x{k} @ {k}x{n}: {g:.1f} GFLOP/s, {us:.1f} us")
x, w, bias = torch.randn(2, 256, 256), torch.randn(2, 256, 256), torch.randn(2, 1, 256)
g, us = rate(lambda: torch.baddbmm(bias, x, w), 2 * 2 * 256**3)
print(f"baddbmm twin 256x256 @ 256x256: {g:.1f} GFLOP/s, {us:.1f} us")
